//! SIMT divergence and reconvergence on the warp harness: divergent branches, nesting, loops
//! with per-lane trip counts, BREAK, partial EXIT, BSSY/BSYNC, WARPSYNC, BMOV, BRA.CONV,
//! indirect branches, fairness of spin loops, and statistics of diverged execution.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_is_multiple_of,
    clippy::identity_op,
    clippy::useless_vec,
    clippy::nonminimal_bool,
    clippy::if_same_then_else,
    clippy::approx_constant,
    clippy::manual_clamp
)]

mod common;
use common::*;
use otc_sim::{FaultKind, WarpHarness};

fn mask(f: impl Fn(usize) -> bool) -> u32 {
    (0..32).fold(0, |m, l| m | ((f(l) as u32) << l))
}

#[test]
fn if_else_without_convergence_barrier_reconverges_by_pc() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l % 3 == 0));
    let st = run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        @P0 BRA else_ ;
        IADD3 R2, R1, 0x64, RZ ;
        BRA join ;
    else_:
        IADD3 R2, R1, 0xc8, RZ ;
    join:
        VOTE.ANY R3, PT, PT ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(2)[l], l as u32 + if l % 3 == 0 { 200 } else { 100 });
        // both sides met again before the vote: the whole warp votes together
        assert_eq!(h.read_reg(3)[l], u32::MAX);
    }
    // S2R, BRA (1 issue), then side A: IADD3, BRA; side B: IADD3; then VOTE, EXIT together
    assert_eq!(st.warp_instructions, 2 + 2 + 1 + 2);
    assert_eq!(st.by_opcode["IADD3"], (2, 32));
    assert_eq!(st.by_opcode["VOTE.ANY"], (1, 32));
}

#[test]
fn nested_divergence_with_convergence_barriers() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l < 16));
    h.write_pred(1, mask(|l| l % 2 == 0));
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        MOV R2, RZ ;
        BMOV.32.CLEAR RZ, B0 ;
        BSSY B0, outer_join ;
        @!P0 BRA outer_else ;
        BMOV.32.CLEAR RZ, B1 ;
        BSSY B1, inner_join ;
        @!P1 BRA inner_else ;
        MOV R2, 0x1 ;
        BRA inner_join ;
    inner_else:
        MOV R2, 0x2 ;
    inner_join:
        BSYNC B1 ;
        VOTE.ANY R4, PT, PT ;
        BRA outer_join ;
    outer_else:
        MOV R2, 0x3 ;
    outer_join:
        BSYNC B0 ;
        VOTE.ANY R3, PT, PT ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32 {
        let e = if l >= 16 {
            3
        } else if l % 2 == 0 {
            1
        } else {
            2
        };
        assert_eq!(h.read_reg(2)[l], e);
        assert_eq!(h.read_reg(3)[l], u32::MAX, "converged after BSYNC B0");
        if l < 16 {
            assert_eq!(h.read_reg(4)[l], 0xffff, "inner BSYNC converges the 16 lanes");
        }
    }
}

#[test]
fn loop_with_per_lane_trip_count_and_break() {
    let mut h = WarpHarness::new();
    // R1 = lane; loop k = 0..lane, sum += k; lanes with lane % 8 == 7 break when k == 3
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        MOV R2, RZ ;
        MOV R3, RZ ;
        LOP3.LUT R5, R1, 0x7, RZ, 0xc0, !PT ;
        ISETP.EQ.AND P1, PT, R5, 0x7, PT ;
        BMOV.32.CLEAR RZ, B0 ;
        BSSY B0, done ;
    top:
        ISETP.GE.AND P0, PT, R3, R1, PT ;
        @P0 BRA exit_loop ;
        ISETP.EQ.AND P2, PT, R3, 0x3, P1 ;
        @P2 BREAK B0 ;
        @P2 BRA done ;
        IADD3 R2, R2, R3, RZ ;
        IADD3 R3, R3, 0x1, RZ ;
        BRA top ;
    exit_loop:
        NOP ;
    done:
        BSYNC B0 ;
        VOTE.ANY R4, PT, PT ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32u32 {
        let n = if l % 8 == 7 { 3 } else { l };
        assert_eq!(h.read_reg(2)[l as usize], (0..n).sum::<u32>(), "lane {l}");
        assert_eq!(h.read_reg(4)[l as usize], u32::MAX);
    }
}

#[test]
fn partial_exit_counts_as_arrival() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l >= 20));
    run(
        &mut h,
        "
        BMOV.32.CLEAR RZ, B0 ;
        BSSY B0, join ;
        @P0 EXIT ;
        S2R R1, SR_LANEID ;
        ISETP.LT.AND P1, PT, R1, 0x5, PT ;
        @P1 BRA join ;
        IADD3 R1, R1, 0x100, RZ ;
    join:
        BSYNC B0 ;
        VOTE.ANY R2, PT, PT ;
        WARPSYNC 0xffffffff ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..20 {
        assert_eq!(h.read_reg(2)[l], 0x000f_ffff);
        assert_eq!(h.read_reg(1)[l], l as u32 + if l < 5 { 0 } else { 0x100 });
    }
}

#[test]
fn warpsync_and_bra_conv() {
    let mut h = WarpHarness::new();
    // lanes < 16 sync on 0xffff and shuffle among themselves while the others wait elsewhere
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        ISETP.GE.AND P0, PT, R1, 0x10, PT ;
        MOV R5, RZ ;
        @P0 BRA high ;
        WARPSYNC 0xffff ;
        SHFL.BFLY PT, R2, R1, 0x1, 0x1f ;
        BRA.CONV skip ;
        MOV R5, 0x1 ;
    skip:
        BRA join ;
    high:
        MOV R2, R1 ;
    join:
        WARPSYNC 0xffffffff ;
        BRA.CONV conv ;
        MOV R6, 0x7 ;
        EXIT ;
    conv:
        MOV R6, 0x9 ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(2)[l], if l < 16 { (l ^ 1) as u32 } else { l as u32 });
        assert_eq!(h.read_reg(5)[l], if l < 16 { 1 } else { 0 }, "BRA.CONV not taken while diverged");
        assert_eq!(h.read_reg(6)[l], 9, "BRA.CONV taken once converged");
    }
}

#[test]
fn call_and_return_through_registers_with_divergent_callers() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l & 1 == 1));
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        @P0 BRA odd ;
        MOV R10, 0x40 ;
        CALL.REL.NOINC f ;
        BRA out ;
    odd:
        MOV R10, 0x70 ;
        CALL.REL.NOINC f ;
        IADD3 R2, R2, 0x1000, RZ ;
    out:
        EXIT ;
    f:
        IMAD R2, R1, 0x3, RZ ;
        RET.REL.NODEC R10 0x0 ;",
    )
    .unwrap();
    for l in 0..32u32 {
        assert_eq!(h.read_reg(2)[l as usize], 3 * l + if l & 1 == 1 { 0x1000 } else { 0 });
    }
}

#[test]
fn indirect_branch_diverges_by_target() {
    let mut h = WarpHarness::new();
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        LOP3.LUT R3, R1, 0x3, RZ, 0xc0, !PT ;
        IMAD.SHL.U32 R3, R3, 0x20, RZ ;
        BRX R3, 0x40 ;
        MOV R2, 0xa ;
        EXIT ;
        MOV R2, 0xb ;
        EXIT ;
        MOV R2, 0xc ;
        EXIT ;
        MOV R2, 0xd ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(2)[l], [0xa, 0xb, 0xc, 0xd][l % 4]);
    }
}

#[test]
fn spin_lock_inside_a_warp_makes_progress() {
    // every lane takes a shared-memory lock in turn; lanes that fail spin on a backward branch
    // while the holder is parked at a higher pc (Volta's forward-progress guarantee)
    let mut h = WarpHarness::new();
    h.write_shared(0, &[0; 8]).unwrap();
    let st = run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        MOV R4, 0x1 ;
    spin:
        ATOMS.CAS R3, [RZ], RZ, R4 ;
        ISETP.NE.AND P0, PT, R3, RZ, PT ;
        @P0 BRA spin ;
        LDS R5, [0x4] ;
        IADD3 R5, R5, R1, RZ ;
        STS [0x4], R5 ;
        ATOMS.EXCH RZ, [RZ], RZ ;
        EXIT ;",
    )
    .unwrap();
    let total = u32::from_le_bytes(h.read_shared(4, 4).unwrap().try_into().unwrap());
    assert_eq!(total, (0..32).sum::<u32>());
    assert!(st.warp_instructions < 100_000);
}

#[test]
fn yield_lets_a_waiting_path_run() {
    let mut h = WarpHarness::new();
    h.write_shared(0, &[0; 4]).unwrap();
    // lane 0 waits for a flag written by lane 1 (at a higher pc)
    run(
        &mut h,
        "
        S2R R1, SR_LANEID ;
        ISETP.NE.AND P0, PT, R1, RZ, PT ;
        @P0 BRA writer ;
    wait:
        YIELD ;
        LDS R2, [RZ] ;
        ISETP.EQ.AND P1, PT, R2, RZ, PT ;
        @P1 BRA wait ;
        EXIT ;
    writer:
        MOV R3, 0x5 ;
        STS [RZ], R3 ;
        EXIT ;",
    )
    .unwrap();
    assert_eq!(h.read_reg(2)[0], 5);
}

#[test]
fn bsync_that_can_never_complete_is_a_fault() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l < 8));
    // lanes >= 8 wait at BSYNC B0 for lanes < 8, which wait at BSYNC B1 for the others: deadlock
    let e = run(
        &mut h,
        "
        BMOV.32.CLEAR RZ, B0 ;
        BSSY B0, a ;
        BSSY B1, b ;
        @P0 BRA b ;
    a:
        BSYNC B0 ;
        EXIT ;
    b:
        BSYNC B1 ;
        EXIT ;",
    )
    .unwrap_err();
    let f = e.fault().expect("guest fault");
    assert_eq!(f.kind, FaultKind::BarrierDeadlock);
    assert_ne!(f.lanes, 0);
    assert!(f.instruction.starts_with("BSYNC"), "{}", f.instruction);
}

#[test]
fn warpsync_on_exited_lanes_completes() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l >= 4));
    run(&mut h, "@P0 EXIT ;\nWARPSYNC 0xffffffff ;\nS2R R1, SR_LANEID ;\nEXIT ;").unwrap();
    assert_eq!(h.read_reg(1)[3], 3);
}

#[test]
fn bmov_saves_and_restores_barriers() {
    let mut h = WarpHarness::new();
    h.write_pred(0, mask(|l| l % 2 == 0));
    run(
        &mut h,
        "
        BSSY B6, j ;
        BMOV.32.CLEAR R8, B6 ;
        BMOV.32 R9, B6 ;
        BMOV.32 B6, R8 ;
        BMOV.32 R10, B6 ;
        @P0 BRA j ;
        NOP ;
    j:
        BSYNC B6 ;
        VOTE.ANY R11, PT, PT ;
        EXIT ;",
    )
    .unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(8)[l], u32::MAX);
        assert_eq!(h.read_reg(9)[l], 0);
        assert_eq!(h.read_reg(10)[l], u32::MAX);
        assert_eq!(h.read_reg(11)[l], u32::MAX);
    }
}

#[test]
fn partial_warps_and_predicated_statistics() {
    let mut h = WarpHarness::new();
    h.set_lanes(0x0000_ffff);
    h.write_pred(0, 0x0000_00ff);
    let st = run(&mut h, "@P0 IADD3 R1, R1, 0x1, RZ ;\n@!PT SHFL.IDX PT, RZ, RZ, RZ, RZ ;\nEXIT ;").unwrap();
    assert_eq!(st.warp_instructions, 3);
    assert_eq!(st.thread_instructions, 48);
    assert_eq!(st.predicated_thread_instructions, 8 + 16);
    assert_eq!(st.by_pc, vec![1, 1, 1]);
}
