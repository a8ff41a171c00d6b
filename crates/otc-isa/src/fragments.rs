//! Tensor-instruction fragment layouts, defined once: which lane, register and half of a register
//! holds which element of which operand matrix. The executor, the Python `otc_emu.fragments`
//! helpers and the ISA docs all use these tables.
//!
//! - `HMMA.884` (Volta, PTX `mma.m8n8k4`): quad pair q = lanes 4q..4q+3 and 4q+16..4q+19 computes
//!   its own 8x8x4 product; t = lane % 4, hi = 4 for lanes >= 16. Tiles are the four quad pairs'
//!   matrices stacked: A 4 x 8x4, B 4 x 4x8, C/D 4 x 8x8.
//! - `HMMA.OHMMA.8161` (outer product, see `isa/otc.toml`): thread group g = lane / 4 owns rows
//!   4*(g%2)..+3 and columns 4*(g/2)..+3 of the 8x16 tile; lane t of the group holds row
//!   4*(g%2)+t. A is 8x1, B is 1x16, C/D 8x16.
//! - `HMMA.BOHMMA.32321`: A and B are 32-bit bitmaps held by every lane; D: lane i holds row i of
//!   the 32x32 product bitmap (bit j = column j).

/// The tensor instructions that have fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragInst {
    /// `HMMA.884.F32.F32`: fp32 C/D (8 registers per lane over the four STEPs).
    Hmma884F32,
    /// `HMMA.884.F16.F16`: fp16 C/D (4 registers per lane over the two STEPs).
    Hmma884F16,
    /// `HMMA.OHMMA.8161.F32.F32`.
    Ohmma8161F32,
    /// `HMMA.OHMMA.8161.F16.F16`.
    Ohmma8161F16,
    /// `HMMA.BOHMMA.32321.B32.B32`.
    Bohmma32321,
}

impl FragInst {
    pub const ALL: [FragInst; 5] = [
        FragInst::Hmma884F32,
        FragInst::Hmma884F16,
        FragInst::Ohmma8161F32,
        FragInst::Ohmma8161F16,
        FragInst::Bohmma32321,
    ];

    /// The instruction's opcode text (without STEP).
    pub fn name(self) -> &'static str {
        match self {
            FragInst::Hmma884F32 => "HMMA.884.F32.F32",
            FragInst::Hmma884F16 => "HMMA.884.F16.F16",
            FragInst::Ohmma8161F32 => "HMMA.OHMMA.8161.F32.F32",
            FragInst::Ohmma8161F16 => "HMMA.OHMMA.8161.F16.F16",
            FragInst::Bohmma32321 => "HMMA.BOHMMA.32321.B32.B32",
        }
    }

    pub fn from_name(s: &str) -> Option<FragInst> {
        FragInst::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Operand of a tensor instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragOperand {
    A,
    B,
    C,
    D,
}

impl FragOperand {
    pub fn from_name(s: &str) -> Option<FragOperand> {
        match s {
            "A" | "a" => Some(FragOperand::A),
            "B" | "b" => Some(FragOperand::B),
            "C" | "c" => Some(FragOperand::C),
            "D" | "d" => Some(FragOperand::D),
            _ => None,
        }
    }
}

/// Element layout of an A or B fragment in memory order (only HMMA.884 has both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    Row,
    Col,
}

/// One element's place: where it lives in the warp and where it sits in the tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    pub lane: u8,
    /// Register index inside the fragment (0-based).
    pub reg: u8,
    /// 0 = low 16 bits, 1 = high 16 bits (always 0 for 32-bit elements).
    pub half: u8,
    /// Matrix index (quad pair for HMMA.884, 0 otherwise).
    pub matrix: u8,
    pub row: u8,
    pub col: u8,
}

/// Shape of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Matrices stacked in the tile (4 for HMMA.884, 1 otherwise).
    pub matrices: u8,
    pub rows: u8,
    pub cols: u8,
    /// Element width: 16 (fp16), 32 (fp32) or 1 (bit).
    pub bits: u8,
    /// Registers per lane.
    pub regs: u8,
}

/// The shape of an operand's fragment (`None` if the instruction has no such operand).
pub fn shape(inst: FragInst, op: FragOperand) -> Shape {
    use FragInst::*;
    use FragOperand::*;
    let s = |matrices, rows, cols, bits, regs| Shape { matrices, rows, cols, bits, regs };
    match (inst, op) {
        (Hmma884F32 | Hmma884F16, A) => s(4, 8, 4, 16, 2),
        (Hmma884F32 | Hmma884F16, B) => s(4, 4, 8, 16, 2),
        (Hmma884F32, C | D) => s(4, 8, 8, 32, 8),
        (Hmma884F16, C | D) => s(4, 8, 8, 16, 4),
        (Ohmma8161F32 | Ohmma8161F16, A) => s(1, 8, 1, 16, 2),
        (Ohmma8161F32 | Ohmma8161F16, B) => s(1, 1, 16, 16, 2),
        (Ohmma8161F32, C | D) => s(1, 8, 16, 32, 4),
        (Ohmma8161F16, C | D) => s(1, 8, 16, 16, 2),
        (Bohmma32321, A) => s(1, 32, 1, 1, 1),
        (Bohmma32321, B) => s(1, 1, 32, 1, 1),
        (Bohmma32321, C | D) => s(1, 32, 32, 1, 1),
    }
}

/// Every element slot of an operand's fragment, in (lane, reg, half) order. For BOHMMA the
/// slots are bits: `half` is the bit index (0..31) of the lane's register, and A/B bitmaps are
/// replicated in every lane (each lane's slots list the full bitmap).
pub fn slots(inst: FragInst, op: FragOperand, layout: Layout) -> Vec<Slot> {
    use FragInst::*;
    use FragOperand::*;
    let mut out = Vec::new();
    for lane in 0u8..32 {
        match inst {
            Hmma884F32 | Hmma884F16 => {
                let q = (lane % 16) / 4;
                let t = lane % 4;
                let hi = if lane >= 16 { 4 } else { 0 };
                let n = if matches!(op, A | B) { 4 } else { 8 };
                for i in 0u8..n {
                    let (row, col) = match (op, layout, inst) {
                        (A, Layout::Row, _) => (t + hi, i),
                        (A, Layout::Col, _) => (i + hi, t),
                        (B, Layout::Row, _) => (t, i + hi),
                        (B, Layout::Col, _) => (i, t + hi),
                        (_, _, Hmma884F16) => (t + hi, i),
                        _ => ((lane & 1) + (i & 2) + hi, (i & 4) + (lane & 2) + (i & 1)),
                    };
                    let (reg, half) = match (op, inst) {
                        (C | D, Hmma884F32) => (i, 0),
                        _ => (i / 2, i % 2),
                    };
                    out.push(Slot { lane, reg, half, matrix: q, row, col });
                }
            }
            Ohmma8161F32 | Ohmma8161F16 => {
                let g = lane / 4;
                let t = lane % 4;
                let r0 = 4 * (g % 2);
                let c0 = 4 * (g / 2);
                for i in 0u8..4 {
                    let (row, col) = match op {
                        A => (r0 + i, 0),
                        B => (0, c0 + i),
                        C | D => (r0 + t, c0 + i),
                    };
                    let (reg, half) = match (op, inst) {
                        (C | D, Ohmma8161F32) => (i, 0),
                        _ => (i / 2, i % 2),
                    };
                    out.push(Slot { lane, reg, half, matrix: 0, row, col });
                }
            }
            Bohmma32321 => {
                for bit in 0u8..32 {
                    let (row, col) = match op {
                        A => (bit, 0),
                        B => (0, bit),
                        C | D => (lane, bit),
                    };
                    out.push(Slot { lane, reg: 0, half: bit, matrix: 0, row, col });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Each (matrix, row, col) of an operand is held as often as the layout replicates it: once
    /// for HMMA.884 (each quad pair holds its own matrices) and for every C/D; OHMMA shares A and
    /// B blocks between lanes; BOHMMA bitmaps are in every lane.
    #[rustfmt::skip]
    const COVERAGE: &[(FragInst, FragOperand, usize)] = &[
        // (instruction, operand, how many times each element appears in the warp)
        (FragInst::Hmma884F32, FragOperand::A, 1),
        (FragInst::Hmma884F32, FragOperand::B, 1),
        (FragInst::Hmma884F32, FragOperand::C, 1),
        (FragInst::Hmma884F16, FragOperand::D, 1),
        (FragInst::Ohmma8161F32, FragOperand::A, 16), // 4 lanes x 4 groups share an A block
        (FragInst::Ohmma8161F32, FragOperand::B, 8),  // 4 lanes x 2 groups share a B block
        (FragInst::Ohmma8161F32, FragOperand::D, 1),
        (FragInst::Ohmma8161F16, FragOperand::C, 1),
        (FragInst::Bohmma32321, FragOperand::A, 32),
        (FragInst::Bohmma32321, FragOperand::D, 1),
    ];

    #[test]
    fn every_element_is_covered_the_expected_number_of_times() {
        for &(inst, op, times) in COVERAGE {
            for layout in [Layout::Row, Layout::Col] {
                let sh = shape(inst, op);
                let all = slots(inst, op, layout);
                let elems = sh.matrices as usize * sh.rows as usize * sh.cols as usize;
                assert_eq!(all.len(), elems * times, "{inst:?} {op:?} {layout:?}");
                let mut places = HashSet::new();
                for s in &all {
                    assert!(s.row < sh.rows && s.col < sh.cols && s.matrix < sh.matrices);
                    assert!(s.reg < sh.regs, "{inst:?} {op:?}: reg {} >= {}", s.reg, sh.regs);
                    assert!(places.insert((s.lane, s.reg, s.half)), "{inst:?} {op:?}: slot used twice");
                }
                let distinct: HashSet<_> = all.iter().map(|s| (s.matrix, s.row, s.col)).collect();
                assert_eq!(distinct.len(), elems, "{inst:?} {op:?}: some element is missing");
            }
        }
    }

    #[rustfmt::skip]
    const HMMA_F32_CD: &[(u8, u8, u8, u8)] = &[
        // (lane, element i, row, col) from the PTX m8n8k4 fp32 C/D table
        (0, 0, 0, 0), (0, 1, 0, 1), (0, 2, 2, 0), (0, 4, 0, 4), (1, 0, 1, 0), (2, 0, 0, 2),
        (3, 7, 3, 7), (16, 0, 4, 0), (19, 7, 7, 7),
    ];

    #[test]
    fn hmma_f32_accumulator_layout_matches_ptx() {
        let all = slots(FragInst::Hmma884F32, FragOperand::C, Layout::Row);
        for &(lane, i, row, col) in HMMA_F32_CD {
            let s = all.iter().find(|s| s.lane == lane && s.reg == i).expect("slot");
            assert_eq!((s.row, s.col), (row, col), "lane {lane} element {i}");
        }
    }
}

/// Markdown tables of every fragment layout (written to `docs/fragments.md`).
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut s = String::from(
        "<!-- @generated from otc_isa::fragments by `OTC_BLESS=1 cargo test -p otc-isa`. DO NOT EDIT. -->\n\n\
         # Fragment layouts\n\n\
         Which lane and register holds which element of each tensor-instruction operand. A cell \
         `q:r,c` is element (row r, column c) of quad pair q's matrix (HMMA.884); `r,c` for the \
         single-matrix OHMMA tiles. `.lo`/`.hi` are the halves of a register holding two fp16 values. \
         BOHMMA needs no table: A and B are 32-bit bitmaps in every lane, and lane i of D holds row i \
         of the product bitmap (bit j = column j).\n",
    );
    let cases: [(FragInst, FragOperand, Layout); 12] = [
        (FragInst::Hmma884F32, FragOperand::A, Layout::Row),
        (FragInst::Hmma884F32, FragOperand::A, Layout::Col),
        (FragInst::Hmma884F32, FragOperand::B, Layout::Row),
        (FragInst::Hmma884F32, FragOperand::B, Layout::Col),
        (FragInst::Hmma884F32, FragOperand::C, Layout::Row),
        (FragInst::Hmma884F16, FragOperand::C, Layout::Row),
        (FragInst::Ohmma8161F32, FragOperand::A, Layout::Row),
        (FragInst::Ohmma8161F32, FragOperand::B, Layout::Row),
        (FragInst::Ohmma8161F32, FragOperand::C, Layout::Row),
        (FragInst::Ohmma8161F16, FragOperand::A, Layout::Row),
        (FragInst::Ohmma8161F16, FragOperand::B, Layout::Row),
        (FragInst::Ohmma8161F16, FragOperand::C, Layout::Row),
    ];
    for (inst, op, layout) in cases {
        let sh = shape(inst, op);
        let all = slots(inst, op, layout);
        let lay = if matches!(inst, FragInst::Hmma884F32 | FragInst::Hmma884F16)
            && matches!(op, FragOperand::A | FragOperand::B)
        {
            format!(" ({} layout)", if layout == Layout::Row { "row" } else { "col" })
        } else {
            String::new()
        };
        let what = if op == FragOperand::C {
            "C and D"
        } else if op == FragOperand::A {
            "A"
        } else {
            "B"
        };
        let _ = write!(s, "\n## {} {what}{lay}\n\n", inst.name());
        let per_reg = if sh.bits == 16 { 2 } else { 1 };
        let mut head = String::from("| lane |");
        let mut rule = String::from("|---|");
        for r in 0..sh.regs {
            for h in 0..per_reg {
                let _ = write!(
                    head,
                    " R+{r}{} |",
                    if per_reg == 2 {
                        if h == 0 {
                            ".lo"
                        } else {
                            ".hi"
                        }
                    } else {
                        ""
                    }
                );
                rule.push_str("---|");
            }
        }
        let _ = writeln!(s, "{head}\n{rule}");
        for lane in 0..32u8 {
            let _ = write!(s, "| {lane} |");
            for r in 0..sh.regs {
                for h in 0..per_reg {
                    let slot = all.iter().find(|x| x.lane == lane && x.reg == r && x.half == h);
                    match slot {
                        Some(x) if sh.matrices > 1 => {
                            let _ = write!(s, " {}:{},{} |", x.matrix, x.row, x.col);
                        }
                        Some(x) => {
                            let _ = write!(s, " {},{} |", x.row, x.col);
                        }
                        None => s.push_str(" |"),
                    }
                }
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod docs_tests {
    /// docs/fragments.md is generated from the tables above; `OTC_BLESS=1` rewrites it.
    #[test]
    fn fragment_docs_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fragments.md");
        let want = super::markdown();
        if std::env::var_os("OTC_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write docs/fragments.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "docs/fragments.md is stale: run `OTC_BLESS=1 cargo test -p otc-isa`");
    }
}
