//! Tensor cores: `HMMA.884` (Volta `mma.m8n8k4`, fp32 or fp16 accumulators) and the binary
//! outer product `HMMA.BOHMMA.32321`.
//!
//! HMMA.884: the four quad pairs of the warp (lanes 4q..4q+3 and 4q+16..4q+19) each compute
//! their own 8x8x4 product D = A*B + C. The fragment layouts come from `otc_isa::fragments`
//! (defined once for the whole project). A STEP computes the elements of D that the lane's
//! destination register pair holds (fp32: elements 2s and 2s+1; fp16: elements 4s..4s+3), each
//! as one four-term dot step `dot4_f32` / `dot4_f16` of `otc-numerics` (V100 model or IEEE per
//! the device config). Operands are read from every lane of the quad pair (active or not);
//! results are written to the lanes that execute the instruction.

use std::sync::OnceLock;

use otc_isa::fragments::{slots, FragInst, FragOperand, Layout};
use otc_numerics::{dot4_f16, dot4_f32, TensorArith};

use crate::decode::OpKind;
use crate::state::{lanes, Warp};

/// Where an fp16 element lives: (lane, register in the pair, half).
type Place = (u8, u8, u8);

struct Tables {
    /// a[layout][q][row][k]
    a: [[[[Place; 4]; 8]; 4]; 2],
    /// b[layout][q][k][col]
    b: [[[[Place; 8]; 4]; 4]; 2],
    /// (row, col) of element i of lane l's accumulator: d32[l][i], d16[l][i]
    d32: [[(u8, u8); 8]; 32],
    d16: [[(u8, u8); 8]; 32],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables {
            a: [[[[(0, 0, 0); 4]; 8]; 4]; 2],
            b: [[[[(0, 0, 0); 8]; 4]; 4]; 2],
            d32: [[(0, 0); 8]; 32],
            d16: [[(0, 0); 8]; 32],
        };
        for (li, layout) in [Layout::Row, Layout::Col].into_iter().enumerate() {
            for s in slots(FragInst::Hmma884F32, FragOperand::A, layout) {
                t.a[li][s.matrix as usize][s.row as usize][s.col as usize] = (s.lane, s.reg, s.half);
            }
            for s in slots(FragInst::Hmma884F32, FragOperand::B, layout) {
                t.b[li][s.matrix as usize][s.row as usize][s.col as usize] = (s.lane, s.reg, s.half);
            }
        }
        for s in slots(FragInst::Hmma884F32, FragOperand::C, Layout::Row) {
            t.d32[s.lane as usize][s.reg as usize] = (s.row, s.col);
        }
        for s in slots(FragInst::Hmma884F16, FragOperand::C, Layout::Row) {
            let i = s.reg * 2 + s.half;
            t.d16[s.lane as usize][i as usize] = (s.row, s.col);
        }
        t
    })
}

#[inline(always)]
fn half_of(w: &Warp, base: u16, p: Place) -> u16 {
    let v = w.regs[base as usize + p.1 as usize][p.0 as usize];
    (v >> (16 * p.2 as u32)) as u16
}

pub(super) fn exec(w: &mut Warp, arith: TensorArith, k: &OpKind, exec: u32) {
    match *k {
        OpKind::Hmma { d, a, b, c, f32, step, a_col, b_col } => {
            let t = tables();
            let (ta, tb) = (&t.a[a_col as usize], &t.b[b_col as usize]);
            let mut out = [[0u32; 32]; 2];
            for l in lanes(exec) {
                let q = (l % 16) / 4;
                let elems = |row: u8, col: u8| -> ([u16; 4], [u16; 4]) {
                    let mut av = [0u16; 4];
                    let mut bv = [0u16; 4];
                    for kk in 0..4 {
                        av[kk] = half_of(w, a, ta[q][row as usize][kk]);
                        bv[kk] = half_of(w, b, tb[q][kk][col as usize]);
                    }
                    (av, bv)
                };
                if f32 {
                    for (j, o) in out.iter_mut().enumerate() {
                        let i = 2 * step as usize + j;
                        let (row, col) = t.d32[l][i];
                        let (av, bv) = elems(row, col);
                        let cv = w.regs[c as usize + j][l];
                        o[l] = dot4_f32(arith, av, bv, cv);
                    }
                } else {
                    for j in 0..4 {
                        let i = 4 * step as usize + j;
                        let (row, col) = t.d16[l][i];
                        let (av, bv) = elems(row, col);
                        let creg = w.regs[c as usize + j / 2][l];
                        let cv = (creg >> (16 * (j % 2))) as u16;
                        let r = dot4_f16(arith, av, bv, cv) as u32;
                        out[j / 2][l] |= r << (16 * (j % 2));
                    }
                }
            }
            w.write(d, &out[0], exec);
            w.write(d + 1, &out[1], exec);
        }
        OpKind::Bohmma { d, a, b } => {
            let (av, bv) = (w.read(a), w.read(b));
            let mut out = [0u32; 32];
            for l in 0..32 {
                out[l] = if (av[l] >> l) & 1 != 0 { bv[l] } else { 0 };
            }
            w.write(d, &out, exec);
        }
        _ => {}
    }
}
