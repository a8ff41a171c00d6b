//! The watchdogs on by default, the wall-clock limit and cancellation (`watchdog.rs`): each stops
//! a kernel that never ends, names where it was, and leaves the CTAs before it in memory.

mod common;
use common::*;
use otc_sim::{Device, DeviceConfig, FaultKind, SimError};

/// CTA i writes i + 1 to out[i]; CTA 3 then spins forever.
const SPIN_AT_CTA3: &str = ".kernel k
    .param ptr out
    S2R R0, SR_CTAID.X ;
    IADD3 R1, R0, 0x1, RZ ;
    IMAD.WIDE.U32 R2, R0, 0x4, RZ ;
    IADD3 R2, P0, R2, c[0x0][0x160], RZ ;
    IADD3.X R3, R3, c[0x0][0x164], RZ, P0, !PT ;
    STG.E.SYS [R2], R1 ;
    ISETP.NE.AND P1, PT, R0, 0x3, PT ;
    @P1 EXIT ;
top:
    BRA top ;
.end";

fn committed_prefix(d: &mut Device, out: u64) -> Vec<u32> {
    from_bytes_u32(&d.read(out, 32).expect("memory stays readable"))
}

#[test]
fn defaults_bound_every_launch() {
    let c = DeviceConfig::default();
    assert_eq!(c.max_instructions, Some(otc_sim::DEFAULT_MAX_INSTRUCTIONS));
    assert_eq!(c.max_cycles, Some(otc_sim::DEFAULT_MAX_CYCLES));
    assert_eq!(c.max_seconds, Some(otc_sim::DEFAULT_MAX_SECONDS));
}

#[test]
fn wall_clock_limit_faults_at_the_spinning_warp() {
    for threads in [1, 2] {
        let mut d = Device::new(DeviceConfig {
            threads: Some(threads),
            max_cycles: None,
            max_seconds: Some(0.2),
            timing: None,
            ..DeviceConfig::default()
        });
        let out = upload(&mut d, &[0; 32]);
        let start = std::time::Instant::now();
        let r = d.launch(&kernel(SPIN_AT_CTA3), [8, 1, 1], [32, 1, 1], Params::new().ptr(out).bytes(), 0);
        let f = match r {
            Err(SimError::Fault(f)) => f,
            other => panic!("expected a watchdog fault, got {other:?}"),
        };
        assert!(start.elapsed().as_secs_f64() < 5.0);
        assert_eq!((f.kind, f.cta, f.warp, f.pc), (FaultKind::Watchdog, [3, 0, 0], 0, 8 * 16), "{f}");
        assert!(f.message.contains("max_seconds"), "{}", f.message);
        assert_eq!(committed_prefix(&mut d, out), [1, 2, 3, 4, 0, 0, 0, 0], "threads {threads}");
    }
}

#[test]
fn cancel_token_stops_a_running_launch() {
    for (threads, timing) in [(1, false), (2, false), (2, true)] {
        let mut d = Device::new(DeviceConfig {
            threads: Some(threads),
            max_cycles: None,
            timing: if timing { DeviceConfig::default().timing } else { None },
            ..DeviceConfig::default()
        });
        let out = upload(&mut d, &[0; 32]);
        let token = d.cancel_token();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            token.cancel();
        });
        let r = d.launch(&kernel(SPIN_AT_CTA3), [8, 1, 1], [32, 1, 1], Params::new().ptr(out).bytes(), 0);
        canceller.join().unwrap();
        match r {
            Err(SimError::Cancelled { ref kernel, cta }) => assert_eq!((kernel.as_str(), cta), ("k", [3, 0, 0])),
            other => panic!("expected Cancelled, got {other:?}"),
        }
        assert_eq!(committed_prefix(&mut d, out), [1, 2, 3, 4, 0, 0, 0, 0], "threads {threads}, timing {timing}");
        // the flag stays set until reset; after a reset the device launches normally
        assert!(matches!(
            d.launch(&kernel(".kernel k\nEXIT ;"), [1, 1, 1], [32, 1, 1], &[], 0),
            Err(SimError::Cancelled { .. })
        ));
        d.cancel_token().reset();
        d.launch(&kernel(".kernel k\nEXIT ;"), [1, 1, 1], [32, 1, 1], &[], 0).expect("runs after reset");
    }
}
