#!/usr/bin/env python3
"""Learn the sm_70 instruction-word encodings of the forms nvcc emits from the committed listings.

`cuobjdump -sass` prints each instruction's 128-bit word beside its text (two 64-bit halves in
`/* 0x... */` comments). This script reads every listing in tests/fixtures/sass/ and learns, per
NVIDIA opcode (bits 0..11 of the word), where each operand's fields sit (register numbers,
immediates, constant bank and offset, memory base and offset, branch targets, predicate numbers)
and which single bits carry an operand's `-`, `|..|`, `!`/`~` and `.reuse`. The bits that remain
(the "residual": modifiers, suffixes such as `.H0_H0`, operand fields that never varied) are kept
as a table from residual to text. The result is `isa/sm70/encoding.toml`, which the decoder in
crates/otc-asm/src/sm70.rs reads.

Usage:
    python3 isa/sm70_learn.py            rewrite isa/sm70/encoding.toml
    python3 isa/sm70_learn.py --check    fail when it is stale
    python3 isa/sm70_learn.py --holdout  learn from the -O3 listings only and report how many
                                         instructions of the other listings (-G, -lineinfo) decode

A field is learned only where the corpus shows it varying; candidates are tried in the order of
the positions NVIDIA's sm_70 format is known to use (CuAssembler's sm_70 tables, "Dissecting the
NVIDIA Volta GPU Architecture via Microbenchmarking", Jia et al. 2018: Rd at bit 16, Ra at 24, Rb
at 32, Rc at 64, a 32-bit immediate at 32, a constant's bank at 54 and word offset at 40, a memory
offset at 40, branch offsets in words at 34), and every choice is checked against every sample:
a layout is accepted only if decoding every word of the corpus with it gives its text back.
Words whose residual is not in the table are not guessed at: the decoder reports them.
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SASS = os.path.join(ROOT, "tests", "fixtures", "sass")
OUT = os.path.join(ROOT, "isa", "sm70", "encoding.toml")

LINE = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s*(.*?)\s*/\* 0x([0-9a-f]{16}) \*/\s*$")
HIGH = re.compile(r"^\s*/\* 0x([0-9a-f]{16}) \*/\s*$")

FLOAT32_OPS = {"FADD", "FMUL", "FFMA", "FSETP", "FSEL", "FMNMX", "MUFU", "FSET", "FCHK"}
FLOAT64_OPS = {"DADD", "DMUL", "DFMA", "DSETP"}
FLOAT16_OPS = {"HADD2", "HMUL2", "HFMA2", "HSETP2", "HSET2"}
TARGET_OPS = {"BRA", "BSSY", "CALL", "RET", "BRX", "JMP"}
# operand fields that are fixed-width numbers, and the canonical (pos, width, signed, scale)
# candidates tried first
SUFFIXES = ("H0_H0", "H1_H1", "F32", "H0", "H1", "B1", "B2", "B3", "ROW", "COL")
CONTROL_FREE = [(105, 17)]  # stall, yield, barriers, wait mask: the listing's control bits
SEARCH_BITS = list(range(16, 105))  # operand fields lie between the guard and the control bits
REUSE_BITS = [122, 123, 124, 125]


def read_listing(path):
    """(function, pc, text, word) for every instruction of a cuobjdump -sass listing."""
    out, fn, pend = [], None, None
    with open(path) as f:
        for line in f:
            if "Function :" in line:
                fn = line.split("Function :")[1].strip()
                continue
            m = LINE.match(line)
            if m:
                pend = (fn, int(m.group(1), 16), m.group(2), int(m.group(3), 16))
                continue
            m = HIGH.match(line)
            if m and pend:
                fn_, pc, text, lo = pend
                out.append((fn_, pc, text, lo | int(m.group(1), 16) << 64))
                pend = None
    return out


# ---------------------------------------------------------------- text


def split_text(text):
    """(guard, mnemonic, [(operand text, separator before it)])."""
    t = text.strip()
    t = t[:-1].rstrip() if t.endswith(";") else t
    guard = ""
    if t.startswith("@"):
        guard, t = t.split(None, 1)
    parts = t.split(None, 1)
    mnem = parts[0]
    ops = []
    if len(parts) > 1:
        rest = parts[1].replace("] [", "][")
        for i, tok in enumerate(rest.split(",")):
            words = tok.split()
            for j, w in enumerate(words):
                ops.append((w, ", " if (i and not j) else (" " if j else "")))
    return guard, mnem, ops


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def parse_float(tok, kind):
    """Bits of a float immediate as the word holds it: f32 bits, f64 high word, f16 bits."""
    neg = tok.startswith("-")
    body = tok.lstrip("+-")
    special = {"INF": float("inf"), "QNAN": float("nan"), "NAN": float("nan")}
    if body.startswith("0f"):
        bits = int(body[2:], 16)
        return ("NAN", bool(bits >> 31)) if is_nan(bits, 32) else bits
    if body.upper() in ("QNAN", "NAN"):
        return ("NAN", neg)  # the text does not give the payload: any NaN of that sign
    if body.upper() in special:
        if kind == "F16":
            v = {"INF": 0x7C00}.get(body.upper(), 0x7FFF)
            return v | (0x8000 if neg else 0)
        if kind == "F64":
            v = {"INF": 0x7FF00000}.get(body.upper(), 0x7FFFFFFF)
            return v | (0x80000000 if neg else 0)
        v = {"INF": 0x7F800000}.get(body.upper(), 0x7FFFFFFF)
        return v | (0x80000000 if neg else 0)
    x = float(tok)
    if kind == "F64":
        return struct.unpack("<Q", struct.pack("<d", x))[0] >> 32
    if kind == "F16":
        return struct.unpack("<H", struct.pack("<e", x))[0]
    return f32_bits(x)


REG = r"(R\d+|RZ)"
R_OP = re.compile(r"^(-)?(\|)?(~)?" + REG + r"(\|)?(\.reuse)?(?:\.(" + "|".join(SUFFIXES) + r"))?$")
P_OP = re.compile(r"^(!)?P([0-6T])$")
C_OP = re.compile(r"^(-)?(\|)?c\[0x([0-9a-f]+)\]\[0x([0-9a-f]+)\](\|)?$")
CX_OP = re.compile(r"^c\[0x([0-9a-f]+)\]\[" + REG + r"(?:\+(-)?0x([0-9a-f]+))?\]$")
M_OP = re.compile(r"^\[(?:" + REG + r")?(?:\+?(-)?0x([0-9a-f]+))?\]$")
INT_OP = re.compile(r"^(-)?0x([0-9a-f]+)$")


def reg(text):
    return 255 if text == "RZ" else int(text[1:])


def parse_operand(tok, mnem_base):
    """(kind, {field: value}, {flag: bool}, suffix) or None when the text is not understood."""
    if tok == "SRZ":
        return ("SR", {"sr": tok}, {}, "")
    if tok == "PR":
        return ("LIT:" + tok, {}, {}, "")
    if tok.startswith("SR_"):
        return ("SR", {"sr": tok}, {}, "")
    if re.fullmatch(r"B\d+", tok):
        return ("B", {"b": int(tok[1:])}, {}, "")
    m = P_OP.match(tok)
    if m:
        return ("P", {"p": 7 if m.group(2) == "T" else int(m.group(2))}, {"not": bool(m.group(1))}, "")
    m = R_OP.match(tok)
    if m:
        flags = {"neg": bool(m.group(1)), "abs": bool(m.group(2)), "not": bool(m.group(3)), "reuse": bool(m.group(6))}
        return ("R", {"r": reg(m.group(4))}, flags, m.group(7) or "")
    m = C_OP.match(tok)
    if m:
        flags = {"neg": bool(m.group(1)), "abs": bool(m.group(2))}
        return ("C", {"bank": int(m.group(3), 16), "coff": int(m.group(4), 16)}, flags, "")
    m = CX_OP.match(tok)
    if m:
        off = int(m.group(4) or "0", 16) * (-1 if m.group(3) else 1)
        return ("CX", {"bank": int(m.group(1), 16), "r": reg(m.group(2)), "coff": off}, {}, "")
    m = M_OP.match(tok)
    if m:
        off = int(m.group(3) or "0", 16) * (-1 if m.group(2) else 1)
        return ("M", {"r": reg(m.group(1) or "RZ"), "moff": off}, {}, "")
    if mnem_base in TARGET_OPS and INT_OP.match(tok):
        return ("T", {"t": int(tok, 16)}, {}, "")
    fkind = "F32" if mnem_base in FLOAT32_OPS else "F64" if mnem_base in FLOAT64_OPS else (
        "F16" if mnem_base in FLOAT16_OPS else None)
    m = INT_OP.match(tok)
    if m and fkind is None:
        return ("I", {"i": int(m.group(2), 16) * (-1 if m.group(1) else 1)}, {}, "")
    if fkind:
        try:
            return (fkind, {"f": parse_float(tok, fkind)}, {}, "")
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------- fields

# Canonical candidates per field: (pos, width, signed, scale)
CANDIDATES = {
    "r": [(16, 8, 0, 1), (24, 8, 0, 1), (32, 8, 0, 1), (64, 8, 0, 1)],
    "p": [(81, 3, 0, 1), (84, 3, 0, 1), (87, 3, 0, 1), (77, 3, 0, 1), (68, 3, 0, 1), (90, 3, 0, 1)],
    "b": [(16, 4, 0, 1), (24, 4, 0, 1)],
    "bank": [(54, 5, 0, 1)],
    "coff": [(40, 14, 1, 4), (40, 14, 0, 4), (38, 16, 0, 1)],
    "moff": [(40, 24, 1, 1)],
    "i": [(32, 32, 1, 1)],
    "f": [(32, 32, 0, 1)],
    "t": [(34, 48, 1, 4), (32, 32, 1, 1)],
    "sr": [(72, 8, 0, 1)],
}
WIDTH = {"r": 8, "p": 3, "b": 4, "bank": 5, "sr": 8}


# NVIDIA's numbers of the special registers S2R reads (the 8-bit field at bit 72), as the public
# Maxwell/Volta tables give them (e.g. yuzu's shader recompiler, s2r.cpp), limited to the names
# otc-emu's assembler knows (isa/encoding.toml). Every S2R of the corpus agrees with it (checked
# below); SR_VIRTUALSMID (67 on sm_70) comes from the corpus alone.
KNOWN_SPECIAL_REGISTERS = {
    0: "SR_LANEID", 3: "SR_VIRTID", 32: "SR_TID", 33: "SR_TID.X", 34: "SR_TID.Y", 35: "SR_TID.Z",
    37: "SR_CTAID.X", 38: "SR_CTAID.Y", 39: "SR_CTAID.Z", 55: "SR_LMEMHIOFF", 56: "SR_EQMASK",
    57: "SR_LTMASK", 58: "SR_LEMASK", 59: "SR_GTMASK", 60: "SR_GEMASK", 61: "SR_REGALLOC",
    80: "SR_CLOCKLO", 81: "SR_CLOCKHI", 82: "SR_GLOBALTIMERLO", 83: "SR_GLOBALTIMERHI",
}


def with_known_special_registers(names, samples):
    """An S2R's learned names, completed from KNOWN_SPECIAL_REGISTERS (which they must agree with)."""
    if not samples[0]["mnem"] == "S2R":
        return names
    for v, n in names.items():
        known = KNOWN_SPECIAL_REGISTERS.get(v)
        rev = {k: x for x, k in KNOWN_SPECIAL_REGISTERS.items()}.get(n)
        if (known is not None and known != n) or (rev is not None and rev != v):
            raise SystemExit(f"S2R {n} is {v} in the corpus, which disagrees with KNOWN_SPECIAL_REGISTERS")
    out = dict(KNOWN_SPECIAL_REGISTERS)
    out.update(names)
    return out


def extract(word, pos, width, signed, scale):
    v = (word >> pos) & ((1 << width) - 1)
    if signed and v >> (width - 1):
        v -= 1 << width
    return v * scale


def field_value(kind, field, value, pc, mode):
    """The number the word holds for a field's text value."""
    if field == "t" and mode == "rel":
        return value - (pc + 16)
    return value


def consistent(samples, getter, cand, pc_mode=None, enum=None):
    pos, width, signed, scale = cand
    if pos + width > 105 and not (pos >= 122):
        return False
    mapping = {}
    for s in samples:
        want = getter(s)
        got = extract(s["word"], pos, width, signed, scale)
        if pc_mode == "rel":
            want = want - (s["pc"] + 16)
        if enum is not None:
            if mapping.setdefault(want, got) != got:
                return False
            continue
        if isinstance(want, tuple):
            if not is_nan(got, width) or (got >> (width - 1) & 1) != want[1]:
                return False
            continue
        if got != want and (signed or want >= 0 or want % ((1 << width) * scale) != got):
            return False
    if enum is not None:
        vals = list(mapping.values())
        return len(set(vals)) == len(vals) and mapping
    return True


def is_nan(bits, width):
    exp, man = {32: (0xFF, 23), 16: (0x1F, 10)}.get(width, (0x7FF, 20))
    return (bits >> man) & exp == exp and bits & ((1 << man) - 1) != 0


def bits_of(pos, width):
    return ((1 << width) - 1) << pos


def learn_group(samples, n_ops, kinds, pin_constants=False):
    """Learn the layout of one (opcode, operand kinds) group. Returns (fields, flags, used mask)."""
    used = 0
    fields = []  # (op index, field name, (pos, width, signed, scale), mode)
    flags = []   # (op index, flag, bit)
    enums = {}
    todo = []
    for oi in range(n_ops):
        fnames = sorted(samples[0]["ops"][oi][1].keys(), key=lambda f: ["bank", "r", "coff", "moff"].index(f)
                        if f in ("bank", "r", "coff", "moff") else 0)
        for fname in fnames:
            varies = len({repr(s["ops"][oi][1][fname]) for s in samples}) > 1
            todo.append((not varies, oi, fname))
    # fields that vary first (the corpus pins them), then those that never vary, at a canonical
    # position only (else they stay in the residual, and the decoder knows only that value)
    for constant, oi, fname in sorted(todo):
        if constant and (pin_constants or fname in ("i", "p", "b", "t", "moff")):
            continue  # a constant immediate or predicate fits too many places to be located
        kind = kinds[oi]
        getter = (lambda oi, fname: (lambda s: s["ops"][oi][1][fname]))(oi, fname)
        modes = ["rel", "abs"] if fname == "t" else [None]
        chosen = None
        cands = list(CANDIDATES.get(fname, []))
        if kind == "F16":
            cands = [(32, 16, 0, 1), (48, 16, 0, 1)]
        if not constant:
            if fname in WIDTH:
                w = WIDTH[fname]
                cands += [(p, w, 0, 1) for p in SEARCH_BITS if p + w <= 105]
            elif fname in ("i", "moff", "coff"):
                for w in (2, 3, 4, 5, 6, 8, 12, 13, 16, 20, 24, 32):  # the narrowest that holds them
                    cands += [(p, w, sg, 1) for p in SEARCH_BITS if p + w <= 105 for sg in (0, 1)]
        for mode in modes:
            for c in cands:
                if bits_of(c[0], c[1]) & used:
                    continue
                if fname == "sr":
                    mp = consistent(samples, getter, c, enum=True)
                    if mp:
                        enums[(oi, fname)] = with_known_special_registers({v: k for k, v in mp.items()}, samples)
                        chosen = (c, mode)
                        break
                    continue
                if consistent(samples, getter, c, pc_mode=mode):
                    chosen = (c, mode)
                    break
            if chosen:
                break
        if not chosen:
            continue  # no single field holds it: it stays in the residual (each value its own form)
        c, mode = chosen
        used |= bits_of(c[0], c[1])
        fields.append((oi, fname, c, mode))
    fields.sort()
    for oi in range(n_ops):
        for flag in ("neg", "abs", "not", "reuse"):
            vals = [s["ops"][oi][2].get(flag, False) for s in samples]
            if len(set(vals)) < 2:
                continue
            bits = REUSE_BITS if flag == "reuse" else SEARCH_BITS
            for b in bits:
                if used >> b & 1:
                    continue
                if all(bool(s["word"] >> b & 1) == v for s, v in zip(samples, vals)):
                    flags.append((oi, flag, b))
                    used |= 1 << b
                    break
    return fields, flags, used, enums


MASK_FIXED = bits_of(0, 16) | bits_of(105, 17) | bits_of(126, 2)


def op_fixed(op, learned_fields, learned_flags, oi):
    """What of an operand the residual stands for: its kind, fixed flags, suffix, unlearned values."""
    kind, vals, flags, suffix = op
    fixed_vals = {f: v for f, v in vals.items() if (oi, f) not in learned_fields}
    fixed_flags = sorted(f for f, on in flags.items() if on and (oi, f) not in learned_flags)
    return (kind, tuple(fixed_flags), suffix, tuple(sorted(fixed_vals.items())))


def learn_samples(key, kinds, seps, samples, problems, split=True):
    """The groups that decode `samples` (one opcode, one operand-kinds list): one, or one per
    mnemonic when a residual would otherwise stand for two texts."""
    res = learn_group(samples, len(kinds), kinds, pin_constants=not split)
    if res is None:
        if split and len({s["mnem"] for s in samples}) > 1:
            return split_by_mnemonic(key, kinds, seps, samples, problems)
        problems.append(f"opcode {key:#05x} {samples[0]['mnem']} {kinds}: no consistent layout")
        return []
    fields, flags, used, enums = res
    lf = {(oi, f) for oi, f, _, _ in fields}
    lg = {(oi, f) for oi, f, _ in flags}
    mask = MASK_FIXED | used
    entries = {}
    for s in samples:
        residual = s["word"] & ~mask
        val = (s["mnem"], tuple(op_fixed(op, lf, lg, i) for i, op in enumerate(s["ops"])))
        if entries.setdefault(residual, val) != val:
            if split and len({s["mnem"] for s in samples}) > 1:
                return split_by_mnemonic(key, kinds, seps, samples, problems)
            problems.append(f"opcode {key:#05x}: residual {residual:#x} means both {entries[residual]} and {val}")
            return []
    # an alias that cuobjdump prints for powers of two (IMAD.SHL): the condition it was seen under
    pow2 = []
    if not split:
        for oi, fname, c, _ in fields:
            vals = [s["ops"][oi][1][fname] for s in samples]
            if fname == "i" and all(v > 0 and v & (v - 1) == 0 for v in vals):
                pow2.append(oi)
    derived = generalise(entries) if split else {}
    g = {"kinds": kinds, "seps": seps, "fields": fields, "flags": flags, "mask": mask,
         "entries": {**derived, **entries}, "derived": set(derived), "enums": enums, "samples": len(samples),
         "pow2": pow2}
    g["entries_key"] = min(entries)
    return [g]


def generalise(entries):
    """Forms for modifier combinations the corpus shows only in parts, on the assumption that
    each modifier's bits are its own (the word is the XOR of its parts): where two forms differ in
    one modifier (`ISETP.LT.AND` / `ISETP.GT.AND`, or `.U32` present or not) and every such pair in
    the opcode's samples, at least two, differs in the same bits, that change is applied to the
    other forms where the modifier stands between the same neighbours as in one of the pairs
    (`ISETP.LT.U32.OR` from `ISETP.LT.OR`), twice over. A derived form never
    replaces a seen one, and two derived forms that claim one residual are both dropped."""
    def tokens(m):
        return m.split(".")

    changes = collections.defaultdict(set)  # (kind, a, b) -> residual differences
    contexts = collections.defaultdict(set)  # (kind, a, b) -> (token before, token after) seen
    counts = collections.Counter()
    items = sorted(entries.items())

    def around(t, j, skip=1):
        return (t[j - 1], t[j + skip] if j + skip < len(t) else None)

    for i, (r1, (m1, f1)) in enumerate(items):
        t1 = tokens(m1)
        for r2, (m2, f2) in items[i + 1:]:
            t2 = tokens(m2)
            if f1 != f2 or t1[0] != t2[0]:
                continue
            for (ta, ra), (tb, rb) in (((t1, r1), (t2, r2)), ((t2, r2), (t1, r1))):
                key = None
                if len(ta) == len(tb):
                    diff = [j for j in range(len(ta)) if ta[j] != tb[j]]
                    if len(diff) == 1:
                        j = diff[0]
                        key, ctx = ("sub", ta[j], tb[j]), around(ta, j)
                elif len(tb) == len(ta) + 1:
                    for j in range(1, len(tb)):
                        if ta == tb[:j] + tb[j + 1:]:
                            key, ctx = ("ins", None, tb[j]), around(tb, j)
                            break
                if key:
                    changes[key].add(ra ^ rb)
                    contexts[key].add(ctx)
                    counts[key] += 1
    rules = [(k, next(iter(d))) for k, d in sorted(changes.items()) if len(d) == 1 and counts[k] >= 2]
    known = dict(entries)
    derived = {}
    for _ in range(2):
        proposals = collections.defaultdict(set)
        for r, (m, f) in sorted(known.items()):
            t = tokens(m)
            for (kind, a, b), d in rules:
                if b in t:
                    continue
                ctxs = contexts[(kind, a, b)]
                if kind == "sub":
                    for j in range(1, len(t)):
                        if t[j] == a and around(t, j) in ctxs:
                            proposals[r ^ d].add((".".join(t[:j] + [b] + t[j + 1:]), f))
                else:
                    for j in range(1, len(t) + 1):
                        if (t[j - 1], t[j] if j < len(t) else None) in ctxs:
                            proposals[r ^ d].add((".".join(t[:j] + [b] + t[j:]), f))
        added = False
        for r, vals in sorted(proposals.items()):
            if r in known or len(vals) != 1:
                continue
            known[r] = derived[r] = next(iter(vals))
            added = True
        if not added:
            break
    return derived


def split_by_mnemonic(key, kinds, seps, samples, problems):
    by = collections.defaultdict(list)
    for s in samples:
        by[s["mnem"]].append(s)
    out = []
    for mnem in sorted(by):
        out += learn_samples(key, kinds, seps, by[mnem], problems, split=False)
    return out


def learn(records):
    """records: (function, pc, text, word). Returns {opcode: [group]} and a list of problems."""
    by_group = collections.defaultdict(list)
    problems = []
    for fn, pc, text, word in records:
        guard, mnem, ops = split_text(text)
        base = mnem.split(".")[0]
        parsed = [parse_operand(tok, base) for tok, _ in ops]
        if any(p is None for p in parsed):
            problems.append(f"operand not understood: {text}")
            continue
        kinds = tuple(p[0] for p in parsed)
        seps = tuple(sep for _, sep in ops)
        key = word & 0xFFF
        by_group[(key, kinds, seps)].append({"pc": pc, "word": word, "mnem": mnem, "ops": parsed, "text": text})
    table = collections.defaultdict(list)
    for (key, kinds, seps), samples in sorted(by_group.items()):
        for g in learn_samples(key, kinds, seps, samples, problems):
            table[key].append(g)
    for key, groups in table.items():
        # cuobjdump leaves out a predicate operand that is PT (LOP3.LUT's, IADD3's carry out, BRA's):
        # operand i of a group may be hidden when another group of the opcode has the same
        # operands without it, for the same mnemonic
        for g in groups:
            g["hide_pt"] = {}
            for i, k in enumerate(g["kinds"]):
                if k != "P":
                    continue
                shorter = g["kinds"][:i] + g["kinds"][i + 1:]
                mnems = {m for h in groups if h["kinds"] == shorter for m, _ in h["entries"].values()}
                for m in sorted(mnems & {m for m, _ in g["entries"].values()}):
                    g["hide_pt"].setdefault(m, []).append(i)
    for key in table:
        # the group whose table pins the most bits first: an alias that cuobjdump prints for
        # particular operand values (IMAD.MOV for RZ, RZ; BRA without its PT) before the general form
        table[key].sort(key=lambda g: (bin(g["mask"]).count("1") - 32 * len(g["pow2"]), g["kinds"], g["entries_key"]))
    return table, problems


# ---------------------------------------------------------------- decode (Python twin of sm70.rs)


def fmt_hex(v, signed):
    return f"-{-v:#x}" if (signed and v < 0) else f"{v:#x}"


def fmt_float(bits, kind):
    if kind == "F16":
        x = struct.unpack("<e", struct.pack("<H", bits))[0]
        return repr(float(x))
    if kind == "F64":
        x = struct.unpack("<d", struct.pack("<Q", bits << 32))[0]
    else:
        x = struct.unpack("<f", struct.pack("<I", bits))[0]
    if x != x:
        if kind == "F32":
            return f"0f{bits:08x}"  # the NaN's payload, which cuobjdump's -QNAN does not give
        return "-QNAN" if bits >> (15 if kind == "F16" else 31) else "+QNAN"
    if x in (float("inf"), float("-inf")):
        return "+INF" if x > 0 else "-INF"
    if kind == "F32":
        # shortest text that reads back to the same f32
        for d in range(1, 18):
            t = f"{x:.{d}g}"
            if f32_bits(float(t)) == bits:
                return t
    return repr(x)


def decode(table, word, pc):
    """The text of one instruction word, or None."""
    key = word & 0xFFF
    for g in table.get(key, []):
        entry = g["entries"].get(word & ~g["mask"])
        if entry is None:
            continue
        if not all(pow2_ok(word, g, oi) for oi in g["pow2"]):
            continue
        mnem, fixed = entry
        vals = [dict(fv) for _, _, _, fv in fixed]
        flags = [set(ff) for _, ff, _, _ in fixed]
        for oi, fname, c, mode in g["fields"]:
            v = extract(word, *c)
            if mode == "rel":
                v += pc + 16
            if fname == "sr":
                v = g["enums"][(oi, fname)].get(v)
                if v is None:
                    vals[oi][fname] = None
                    break
            vals[oi][fname] = v
        else:
            pass
        if any(v is None for d in vals for v in d.values()):
            continue
        for oi, flag, b in g["flags"]:
            if word >> b & 1:
                flags[oi].add(flag)
        parts = []
        hide = g["hide_pt"].get(mnem, [])
        for oi, (kind, _, suffix, _) in enumerate(fixed):
            if oi in hide and vals[oi].get("p") == 7 and not flags[oi]:
                continue
            sep = g["seps"][oi] if parts else ""
            parts.append(sep + fmt_operand(kind, vals[oi], flags[oi], suffix))
        g_ = word >> 12 & 0xF
        guard = "" if g_ == 7 else ("@!" if g_ & 8 else "@") + ("PT" if g_ & 7 == 7 else f"P{g_ & 7}") + " "
        return guard + mnem + (" " + "".join(parts) if parts else "") + " ;"
    return None


def pow2_ok(word, g, oi):
    for o, fname, c, _ in g["fields"]:
        if o == oi and fname == "i":
            v = extract(word, *c)
            return v > 0 and v & (v - 1) == 0
    return False


def rname(r):
    return "RZ" if r == 255 else f"R{r}"


def fmt_operand(kind, v, flags, suffix):
    if kind.startswith("LIT:"):
        return kind[4:]
    if kind == "SR":
        return v["sr"]
    if kind == "B":
        return f"B{v['b']}"
    if kind == "P":
        return ("!" if "not" in flags else "") + ("PT" if v["p"] == 7 else f"P{v['p']}")
    if kind in ("R", "C"):
        core = rname(v["r"]) if kind == "R" else f"c[{v['bank']:#x}][{v['coff']:#x}]"
        if "not" in flags:
            core = "~" + core
        if "abs" in flags:
            core = f"|{core}|"
        if "neg" in flags:
            core = "-" + core
        if "reuse" in flags:
            core += ".reuse"
        return core + ("." + suffix if suffix else "")
    if kind == "CX":
        off = v["coff"]
        return f"c[{v['bank']:#x}][{rname(v['r'])}" + (f"+{fmt_hex(off, True)}" if off else "") + "]"
    if kind == "M":
        off, r = v["moff"], v["r"]
        if r == 255 and off:
            return f"[{off:#x}]"
        return f"[{rname(r)}" + (f"+{fmt_hex(off, True)}" if off else "") + "]"
    if kind == "I":
        return fmt_hex(v["i"], True)
    if kind == "T":
        return f"{v['t']:#x}"
    return fmt_float(v["f"], kind)


# ---------------------------------------------------------------- output


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(table, sources):
    lines = [
        "# GENERATED by `python3 isa/sm70_learn.py` from the listings in tests/fixtures/sass/; do not edit.",
        "# NVIDIA sm_70 instruction words -> cuobjdump text, for the forms of the committed corpus.",
        "# One [[group]] per (opcode, operand kinds); `fields`: [operand, field, bit, width, signed, scale,",
        "# mode] (mode `rel`: a branch target relative to the next instruction); `flags`: [operand, flag,",
        "# bit]; `mask`: the bits the opcode, guard, control bits, fields and flags take; each [[group.form]]",
        "# is a residual (the word outside `mask`) with its mnemonic and, per operand, the flags, suffix",
        "# and field values that the residual stands for. See docs/cubin.md.",
        f"# sources: {', '.join(sources)}",
        "",
    ]
    for key in sorted(table):
        for g in table[key]:
            lines.append("[[group]]")
            lines.append(f"opcode = {key:#05x}")
            lines.append(f"samples = {g['samples']}")
            lines.append("kinds = [" + ", ".join(toml_str(k) for k in g["kinds"]) + "]")
            lines.append("separators = [" + ", ".join(toml_str(s) for s in g["seps"]) + "]")
            lines.append("mask = " + toml_str(f"{g['mask']:#034x}"))
            lines.append("fields = [" + ", ".join(
                f"[{oi}, {toml_str(f)}, {c[0]}, {c[1]}, {c[2]}, {c[3]}, {toml_str(mode or 'abs')}]"
                for oi, f, c, mode in g["fields"]) + "]")
            lines.append("flags = [" + ", ".join(f"[{oi}, {toml_str(f)}, {b}]" for oi, f, b in g["flags"]) + "]")
            lines.append(f"pow2 = {g['pow2']}")
            lines.append("hide_pt = [" + ", ".join(f"[{toml_str(m)}, {i}]" for m, ix in sorted(g["hide_pt"].items()) for i in ix) + "]")
            enums = g["enums"]
            if enums:
                (oi, fname), mp = next(iter(enums.items()))
                lines.append("names = [" + ", ".join(f"[{v}, {toml_str(n)}]" for v, n in sorted(mp.items())) + "]")
            for residual, (mnem, fixed) in sorted(g["entries"].items()):
                lines.append("[[group.form]]")
                lines.append("residual = " + toml_str(f"{residual:#034x}"))
                lines.append("mnemonic = " + toml_str(mnem))
                if residual in g["derived"]:
                    lines.append("derived = true  # a combination of modifiers seen apart (isa/sm70_learn.py: generalise)")
                ops = []
                for kind, ff, suffix, fv in fixed:
                    items = []
                    if ff:
                        items.append("flags = [" + ", ".join(toml_str(f) for f in ff) + "]")
                    if suffix:
                        items.append("suffix = " + toml_str(suffix))
                    for f, v in fv:
                        items.append(f"{f} = " + (toml_str(v) if isinstance(v, str) else str(v)))
                    ops.append("{" + ", ".join(items) + "}")
                lines.append("operands = [" + ", ".join(ops) + "]")
            lines.append("")
    return "\n".join(lines)


def corpus(paths):
    records = []
    for p in paths:
        records += read_listing(p)
    return records


def self_check(table, records):
    """Decode every word; return the texts that do not come back (normalised)."""
    bad, ok = [], 0
    for fn, pc, text, word in records:
        got = decode(table, word, pc)
        if got is not None and normalise(got) == normalise(text):
            ok += 1
        else:
            bad.append((text, got, word))
    return ok, bad


def normalise(text):
    guard, mnem, ops = split_text(text)
    base = mnem.split(".")[0]
    return (guard, mnem, tuple((parse_operand(t, base), s) for t, s in ops))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--holdout", action="store_true")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(SASS, "*.sass")))
    if a.holdout:
        train = [p for p in paths if p.count(".") == 1]
        test = [p for p in paths if p.count(".") > 1]
        table, _ = learn(corpus(train))
        ok, bad = self_check(table, corpus(test))
        n = ok + len(bad)
        print(f"learned from {len(train)} -O3 listings; decoded {ok} of {n} instructions "
              f"({100 * ok / n:.1f}%) of the {len(test)} -G / -lineinfo listings")
        miss = collections.Counter(split_text(t)[1] for t, _, _ in bad)
        print("not decoded, by mnemonic:", ", ".join(f"{m} {c}" for m, c in miss.most_common()))
        return 0
    records = corpus(paths)
    table, problems = learn(records)
    ok, bad = self_check(table, records)
    for p in problems:
        print("problem:", p, file=sys.stderr)
    for text, got, word in bad[:20]:
        print(f"mismatch: {text!r} decoded as {got!r} ({word:#034x})", file=sys.stderr)
    print(f"{ok} of {len(records)} instructions decode back to their text", file=sys.stderr)
    text = render(table, [os.path.relpath(p, ROOT) for p in paths])
    if a.check:
        with open(OUT) as f:
            if f.read() != text:
                print(f"{OUT} is stale: run python3 isa/sm70_learn.py", file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
