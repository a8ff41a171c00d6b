//! `ATOMS.CAST.SPIN.64` as cuobjdump prints it (the 64-bit shared CAS of nvcc's spin loops, e.g.
//! `atomicCAS` on a `double` in shared memory), run on the warp harness: one lane swaps a 64-bit
//! word in shared memory when it equals the compare value, and reads 1 on success, 0 on failure.

mod common;
use common::*;

/// (word in memory, compare value, new value, the result register, the word afterwards).
#[rustfmt::skip]
const CASES: &[(u64, u64, u64, u32, u64)] = &[
    (0x1111_2222_3333_4444, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, 1, 0x5555_6666_7777_8888),
    (0x1111_2222_3333_4444, 0x1111_2222_3333_4445, 0x5555_6666_7777_8888, 0, 0x1111_2222_3333_4444),
    // only the high halves differ: a 32-bit compare would succeed
    (0x1111_2222_3333_4444, 0x9999_2222_3333_4444, 0x5555_6666_7777_8888, 0, 0x1111_2222_3333_4444),
];

#[test]
fn shared_cas_64_in_nvcc_modifier_order_swaps_only_an_equal_word() {
    for &(word, compare, new, result, after) in CASES {
        for text in
            ["ATOMS.CAST.SPIN.64 R2, [R4+0x8], R6, R8 ;\nEXIT ;", "ATOMS.CAST.64.SPIN R2, [R4+0x8], R6, R8 ;\nEXIT ;"]
        {
            let mut h = WarpHarness::new();
            h.set_lanes(1);
            h.write_shared(0x8, &word.to_le_bytes()).unwrap();
            h.write_reg(4, [0; 32]);
            h.write_reg(6, [compare as u32; 32]);
            h.write_reg(7, [(compare >> 32) as u32; 32]);
            h.write_reg(8, [new as u32; 32]);
            h.write_reg(9, [(new >> 32) as u32; 32]);
            run(&mut h, text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(h.read_reg(2)[0], result, "{text}: {word:#x} vs {compare:#x}");
            let mem = u64::from_le_bytes(h.read_shared(0x8, 8).unwrap().try_into().unwrap());
            assert_eq!(mem, after, "{text}: {word:#x} vs {compare:#x}");
        }
    }
}
