//! Structured-sparse inner-product steps (`isa/otc.toml`, issue 18): the A100-style 2:4
//! `HMMA.SP884` and HighLight's two-rank HSS `HMMA.HSS884.H4/H8`. Each is an `HMMA.884.F32` STEP
//! whose A fragment holds the 4 kept values of a row's k window (4 * `blocks` long) and whose B
//! group holds the whole window as `blocks` HMMA.884 B pairs (COL layout); the row's metadata
//! (in the lane that holds the row) picks, for kept value i, the B row it multiplies. Each output
//! element is one 4-term dot step of the kept products through the HMMA.884 adder (`dot4_f32`), so
//! the bits are those of HMMA.884 on the kept values and the picked B rows; the skipped products
//! are never formed.

use otc_isa::fragments::{slots, FragInst, FragOperand, Layout};
use otc_numerics::{dot4_f32, TensorArith};

use crate::fault::{FaultKind, RawFault};
use crate::state::{lanes, Warp};

use super::fault;

/// The B row (0 .. 4 * `blocks`) of the window that kept value `i` (0..3) of a row multiplies,
/// from the row's metadata `meta` (SP884: a byte; HSS884: a half-word), or the bad block index.
pub(crate) fn picked_row(meta: u32, i: usize, blocks: u8, hss: bool) -> Result<u32, u32> {
    let pos = (meta >> (2 * i)) & 3;
    let block = if hss { (meta >> (8 + 4 * (i / 2))) & 0xf } else { (i / 2) as u32 };
    if block >= blocks as u32 {
        return Err(block);
    }
    Ok(4 * block + pos)
}

/// Where the fragments live: `a_lane[q][row]` = the lane holding A row `row` of quad pair q (ROW
/// layout, element k in register k / 2, half k % 2), `b[q][k][col]` = (lane, register, half) of B
/// element (k, col) of a pair (COL layout), `d[l][i]` = (row, col) of lane l's fp32 element i.
struct Places {
    a_lane: [[u8; 8]; 4],
    b: [[[(u8, u8, u8); 8]; 4]; 4],
    d: [[(u8, u8); 8]; 32],
}

fn places() -> &'static Places {
    static P: std::sync::OnceLock<Places> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut p = Places { a_lane: [[0; 8]; 4], b: [[[(0, 0, 0); 8]; 4]; 4], d: [[(0, 0); 8]; 32] };
        let inst = FragInst::Hmma884F32;
        for s in slots(inst, FragOperand::A, Layout::Row) {
            assert_eq!((s.reg, s.half), (s.col / 2, s.col % 2), "HMMA.884 ROW A: element k in register k / 2");
            p.a_lane[s.matrix as usize][s.row as usize] = s.lane;
        }
        for s in slots(inst, FragOperand::B, Layout::Col) {
            p.b[s.matrix as usize][s.row as usize][s.col as usize] = (s.lane, s.reg, s.half);
        }
        for s in slots(inst, FragOperand::C, Layout::Row) {
            p.d[s.lane as usize][s.reg as usize] = (s.row, s.col);
        }
        p
    })
}

/// One structured-sparse STEP for the lanes `exec`: D (pair `d`) = dot4(kept A, picked B) + C.
#[allow(clippy::too_many_arguments)]
pub(super) fn hmma_structured(
    w: &mut Warp,
    arith: TensorArith,
    exec: u32,
    [d, a, b, c, e]: [u16; 5],
    step: u8,
    sel: u8,
    blocks: u8,
    hss: bool,
) -> Result<(), RawFault> {
    let p = places();
    let half = |reg: u16, lane: usize, h: u8| (w.regs[reg as usize][lane] >> (16 * h as u32)) as u16;
    let meta_of = |lane: usize| {
        let word = w.regs[e as usize][lane];
        if hss {
            (word >> (16 * sel as u32)) & 0xffff
        } else {
            (word >> (8 * sel as u32)) & 0xff
        }
    };
    let mut out = [[0u32; 32]; 2];
    for l in lanes(exec) {
        let q = (l % 16) / 4;
        for (r, o) in out.iter_mut().enumerate() {
            let (row, col) = p.d[l][2 * step as usize + r];
            let al = p.a_lane[q][row as usize] as usize;
            let meta = meta_of(al);
            let mut av = [0u16; 4];
            let mut bv = [0u16; 4];
            for i in 0..4 {
                av[i] = half(a + i as u16 / 2, al, i as u8 % 2);
                let k = picked_row(meta, i, blocks, hss).map_err(|block| {
                    fault(
                        w,
                        1 << l,
                        FaultKind::IllegalInstruction,
                        format!(
                            "HMMA.HSS884.H{blocks}: the metadata of A row {row} of quad pair {q} (lane {al}, register R{e}, half-word {sel}: {meta:#06x}) names rank-1 block {block}, but the window has blocks 0..{}",
                            blocks - 1
                        ),
                        None,
                    )
                })?;
                let (bl, breg, bh) = p.b[q][k as usize % 4][col as usize];
                bv[i] = half(b + 2 * (k as u16 / 4) + breg as u16, bl as usize, bh);
            }
            o[l] = dot4_f32(arith, av, bv, w.regs[c as usize + r][l]);
        }
    }
    w.write(d, &out[0], exec);
    w.write(d + 1, &out[1], exec);
    Ok(())
}
