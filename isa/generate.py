#!/usr/bin/env python3
"""Validate the otc-emu instruction set (isa/*.toml) and generate what derives from it.

    python3 isa/generate.py           # rewrite crates/otc-isa/src/generated.rs and docs/isa.md
    python3 isa/generate.py --check   # exit 1 if either is stale (CI runs this)

The instruction files are read in sorted order (encoding.toml first). Each [[inst]] entry is one
instruction family with a unique opcode; operands that list several kinds (`b:R|S32|C`) expand
into *forms*, one encoding each, numbered in the order of the cartesian product.

Operand notation:  [>]name:KIND[|KIND...][:flag,flag...]
    >           the operand is written (destination)
    KIND        R, R*group (register count from modifier group `group`), G<n> (group of n
                registers, printed as its base register), L<n> (the same, printed as a
                list {R4, R5}), P, U<bits>, S<bits>, F32, F16, C, CX, M, SR, B, SB, T, PR
    flags       neg, abs, not, swz, hsel, bsel, layout (see encoding.toml [flags]);
                `reuse` is implicit on every source register operand
Modifier notation: "group=OPT|OPT|..." in the order SASS prints them; an empty option ("x=|X")
makes the group optional (omitted = option 0); an option may carry a register count ("64:2")
that operands of kind R*group use. The groups' bit fields follow the same order unless the entry
lists `mod_fields = [group names]` (a group moved in the text keeps its field, so that binary
programs keep their meaning).

Stdlib only (tomllib), so it runs anywhere Python 3.11 runs.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISA_DIR = ROOT / "isa"
RUST_OUT = ROOT / "crates" / "otc-isa" / "src" / "generated.rs"
CLASS_OUT = ROOT / "crates" / "otc-isa" / "src" / "class.rs"
DOCS_OUT = ROOT / "docs" / "isa.md"

# Instruction classes: `family.name` (or a bare `name`); each family becomes a Rust enum nested in
# `Class` (`Class::Tensor(TensorClass::OhmmaSparse)`), a bare name a unit variant (`Class::Alu`).
CLASS_FAMILIES = ["memory", "warp", "control", "tensor"]
# The keys of a tensor class's machine-file table [tensor.<name>] (crates/otc-timing).
TENSOR_COSTS = ["cycles", "latency", "macs"]
UNITS = ["int", "fp32", "fp16", "fp64", "sfu", "conv", "mem", "branch", "tensor", "misc"]
KIND_NAMES = ["R", "G", "L", "P", "U", "S", "F32", "F16", "C", "CX", "M", "SR", "B", "SB", "T", "PR"]
# Which flags make sense on which kinds (validated).
FLAG_KINDS = {
    "neg": {"R", "G", "C", "CX"},
    "abs": {"R", "G", "C", "CX"},
    "not": {"R", "P"},
    "reuse": {"R", "G", "L"},
    "swz": {"R", "C"},
    "hsel": {"R"},
    "bsel": {"R"},
    "layout": {"G", "L", "R"},
}
# Text classes: two operand kinds in the same position are ambiguous if their classes meet.
TEXT_CLASS = {
    "R": {"reg"}, "G": {"reg", "list"}, "L": {"reg", "list"}, "P": {"pred"}, "U": {"num"}, "S": {"num"},
    "F32": {"num", "float"}, "F16": {"num", "float"}, "C": {"const"}, "CX": {"constx"},
    "M": {"mem"}, "SR": {"sreg"}, "B": {"bar"}, "SB": {"sb"}, "T": {"num", "label"}, "PR": {"pr"},
}


class SpecError(Exception):
    pass


@dataclass
class ModGroup:
    name: str
    options: list[str]
    regs: list[int] | None  # register count per option, when annotated
    lo: int = 0
    width: int = 0

    @property
    def required(self) -> bool:
        return "" not in self.options


@dataclass
class Kind:
    name: str            # one of KIND_NAMES
    bits: int            # main field width
    count: int = 1       # G<n>: group size
    regs_from: str = ""  # R*group


@dataclass
class OperandSpec:
    name: str
    write: bool
    kinds: list[Kind]
    flags: list[str]


@dataclass
class Field:
    flag: str
    lo: int
    width: int


@dataclass
class FormOperand:
    name: str
    write: bool
    kind: Kind
    lo: int
    flags: list[Field] = field(default_factory=list)


@dataclass
class Form:
    inst: "Inst"
    index: int
    operands: list[FormOperand]
    end: int  # first bit after the last field


@dataclass
class InstClass:
    name: str     # "tensor.ohmma_sparse"
    stats: str    # prefix of the cycle model's counters that report it
    summary: str
    source: str
    costs: list[str]  # tensor classes: the keys of the machine file's [tensor.<name>] table

    @property
    def family(self) -> str:
        return self.name.split(".")[0] if "." in self.name else ""

    @property
    def local(self) -> str:
        return self.name.split(".", 1)[-1]


@dataclass
class Inst:
    name: str
    opcode: int
    unit: str
    cls: str
    summary: str
    doc: str
    source: str
    mods: list[ModGroup]
    operands: list[OperandSpec]
    forms: list[Form] = field(default_factory=list)
    # the groups in the order of their bit fields, when it differs from the text order of `mods`
    mod_fields: list[str] | None = None


def bits_for(n: int) -> int:
    return 0 if n <= 1 else (n - 1).bit_length()


def parse_kind(text: str, enc: dict, where: str) -> Kind:
    kinds = enc["kinds"]
    regs_from = ""
    if text.startswith("R*"):
        regs_from = text[2:]
        text = "R"
    if text in ("R", "P", "F32", "F16", "C", "CX", "M", "SR", "B", "SB", "T", "PR"):
        return Kind(text, kinds[text]["bits"], regs_from=regs_from)
    if text[:1] in "GL" and text[1:].isdigit():
        n = int(text[1:])
        if not 1 <= n <= 32:
            raise SpecError(f"{where}: register group size {n} out of range 1..32")
        return Kind(text[0], kinds[text[0]]["bits"], count=n)
    if text[:1] in "US" and text[1:].isdigit():
        n = int(text[1:])
        if not 1 <= n <= 32:
            raise SpecError(f"{where}: immediate width {n} out of range 1..32")
        return Kind(text[0], n)
    raise SpecError(f"{where}: unknown operand kind {text!r} (expected one of {', '.join(KIND_NAMES)}, "
                    "U<bits>, S<bits>, G<n>, R*group)")


def parse_operand(text: str, enc: dict, where: str) -> OperandSpec:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise SpecError(f"{where}: operand {text!r} is not name:KINDS[:flags]")
    name, kinds_text = parts[0], parts[1]
    write = name.startswith(">")
    name = name.lstrip(">")
    if not name.isidentifier():
        raise SpecError(f"{where}: operand name {name!r} is not an identifier")
    kinds = [parse_kind(k, enc, f"{where} operand {name}") for k in kinds_text.split("|")]
    flags = [f for f in parts[2].split(",") if f] if len(parts) == 3 else []
    for f in flags:
        if f not in enc["flags"] or f == "reuse":
            raise SpecError(f"{where} operand {name}: unknown flag {f!r}")
        if not any(k.name in FLAG_KINDS[f] for k in kinds):
            raise SpecError(f"{where} operand {name}: flag {f!r} applies to none of its kinds")
    suffixes = [f for f in flags if f in ("swz", "hsel", "bsel", "layout")]
    if len(suffixes) > 1:
        raise SpecError(f"{where} operand {name}: at most one of swz, hsel, bsel, layout")
    return OperandSpec(name, write, kinds, flags)


def parse_mods(items: list[str], where: str) -> list[ModGroup]:
    groups = []
    for item in items:
        if "=" not in item:
            raise SpecError(f"{where}: modifier group {item!r} is not name=OPT|OPT")
        name, opts = item.split("=", 1)
        options, regs = [], []
        for o in opts.split("|"):
            if ":" in o:
                o, r = o.split(":", 1)
                regs.append(int(r))
            else:
                regs.append(None)
            options.append(o)
        if "" in options and options[0] != "":
            raise SpecError(f"{where}: modifier group {name!r}: the empty option must come first (it is the default)")
        if len(set(options)) != len(options):
            raise SpecError(f"{where}: modifier group {name!r} repeats an option")
        for o in options:
            if o and not all(c.isalnum() or c == "_" for c in o):
                raise SpecError(f"{where}: modifier option {o!r} must be letters, digits or _")
        annotated = [r for r in regs if r is not None]
        if annotated and len(annotated) != len(regs):
            raise SpecError(f"{where}: modifier group {name!r}: annotate every option with a register count or none")
        groups.append(ModGroup(name, options, regs if annotated else None))
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: modifier group names repeat")
    return groups


@dataclass
class Macro:
    name: str
    syntax: str
    summary: str
    doc: str
    source: str


MACROS: list[Macro] = []
CLASSES: list[InstClass] = []


def check_class_name(name: str, where: str) -> None:
    parts = name.split(".")
    if len(parts) > 2 or not all(p and p.replace("_", "a").isalnum() and p == p.lower() for p in parts):
        raise SpecError(f"{where}: class {name!r} must be `family.name` or `name` in lower case")
    if len(parts) == 2 and parts[0] not in CLASS_FAMILIES:
        raise SpecError(f"{where}: class family {parts[0]!r} not in {CLASS_FAMILIES}")


def load(enc: dict) -> list[Inst]:
    insts: list[Inst] = []
    MACROS.clear()
    CLASSES.clear()
    files = sorted(p for p in ISA_DIR.glob("*.toml") if p.name != "encoding.toml")
    for path in files:
        data = tomllib.loads(path.read_text())
        unknown_tables = set(data) - {"inst", "macro", "class"}
        if unknown_tables:
            raise SpecError(f"{path.name}: unknown top-level keys {sorted(unknown_tables)}")
        for raw in data.get("macro", []):
            missing = {"name", "syntax", "summary", "doc"} - set(raw)
            if missing or set(raw) - {"name", "syntax", "summary", "doc"}:
                raise SpecError(f"{path.name} macro {raw.get('name', '?')}: needs exactly name, syntax, summary, doc")
            MACROS.append(Macro(raw["name"], raw["syntax"], raw["summary"].strip(), raw["doc"].strip(), path.name))
        for raw in data.get("class", []):
            where = f"{path.name} class {raw.get('name', '?')}"
            tensor = raw.get("name", "").startswith("tensor.")
            if set(raw) != {"name", "stats", "summary"} | ({"costs"} if tensor else set()):
                raise SpecError(f"{where}: needs exactly name, stats, summary" + (", costs" if tensor else ""))
            check_class_name(raw["name"], where)
            costs = raw.get("costs", [])
            if tensor and ("cycles" not in costs or set(costs) - set(TENSOR_COSTS) or len(set(costs)) != len(costs)):
                raise SpecError(f"{where}: costs must list `cycles` and any of {TENSOR_COSTS}, once each")
            if any(c.name == raw["name"] for c in CLASSES):
                raise SpecError(f"{where}: class declared twice")
            CLASSES.append(InstClass(raw["name"], raw["stats"], raw["summary"].strip(), path.name,
                                     [c for c in TENSOR_COSTS if c in costs]))
        for i, raw in enumerate(data.get("inst", [])):
            where = f"{path.name} inst #{i + 1} ({raw.get('name', '?')})"
            unknown = set(raw) - {"name", "opcode", "unit", "class", "summary", "doc", "mods", "mod_fields", "operands"}
            if unknown:
                raise SpecError(f"{where}: unknown keys {sorted(unknown)}")
            for key in ("name", "opcode", "unit", "class", "summary"):
                if key not in raw:
                    raise SpecError(f"{where}: missing key {key!r}")
            name = raw["name"]
            if not name.isupper() and not name.replace("2", "").isupper():
                raise SpecError(f"{where}: mnemonic must be upper case")
            if raw["unit"] not in UNITS:
                raise SpecError(f"{where}: unit {raw['unit']!r} not in {UNITS}")
            mods = parse_mods(raw.get("mods", []), where)
            mod_fields = raw.get("mod_fields")
            if mod_fields is not None and sorted(mod_fields) != sorted(g.name for g in mods):
                raise SpecError(f"{where}: mod_fields {mod_fields} must name each modifier group once")
            ops = [parse_operand(o, enc, where) for o in raw.get("operands", [])]
            if len({o.name for o in ops}) != len(ops):
                raise SpecError(f"{where}: operand names repeat")
            for o in ops:
                for k in o.kinds:
                    if k.regs_from:
                        g = next((g for g in mods if g.name == k.regs_from), None)
                        if g is None or g.regs is None:
                            raise SpecError(f"{where}: operand {o.name} takes its register count from "
                                            f"group {k.regs_from!r}, which has no register counts")
            insts.append(Inst(name, raw["opcode"], raw["unit"], raw["class"], raw["summary"].strip(),
                              raw.get("doc", "").strip(), path.name, mods, ops, mod_fields=mod_fields))
    declared = {c.name for c in CLASSES}
    for inst in insts:
        if inst.cls not in declared:
            raise SpecError(f"{inst.source} {inst.name} {inst.opcode:#05x}: class {inst.cls!r} is not declared "
                            f"(add a [[class]] entry; declared: {', '.join(sorted(declared))})")
    used = {i.cls for i in insts}
    for c in CLASSES:
        if c.name not in used:
            raise SpecError(f"{c.source} class {c.name}: no instruction has this class")
    return insts


def layout(insts: list[Inst], enc: dict) -> None:
    lay = enc["layout"]
    op_bits = lay["opcode"][1]
    form_bits = lay["form"][1]
    lo0, width = lay["fields"]
    hi = lo0 + width
    flags = enc["flags"]
    seen_opcodes: dict[int, Inst] = {}
    for inst in insts:
        where = f"{inst.source} {inst.name}"
        if not 0 <= inst.opcode < (1 << op_bits):
            raise SpecError(f"{where}: opcode {inst.opcode:#x} does not fit {op_bits} bits")
        if inst.opcode in seen_opcodes:
            raise SpecError(f"{where}: opcode {inst.opcode:#x} already used by {seen_opcodes[inst.opcode].name}")
        seen_opcodes[inst.opcode] = inst
        pos = lo0
        by_name = {g.name: g for g in inst.mods}
        for g in (by_name[n] for n in inst.mod_fields) if inst.mod_fields else inst.mods:
            g.lo, g.width = pos, bits_for(len(g.options))
            pos += g.width
        # Volta has one 32-bit slot per instruction for an immediate or a constant: kind
        # combinations with two such operands are not forms (e.g. IMAD b and c both immediate).
        combos = [c for c in itertools.product(*[o.kinds for o in inst.operands])
                  if sum(1 for k in c if is_wide(k)) <= 1]
        if len(combos) > (1 << form_bits):
            raise SpecError(f"{where}: {len(combos)} forms do not fit the {form_bits}-bit form field")
        for index, kinds in enumerate(combos):
            p = pos
            fops = []
            for spec, kind in zip(inst.operands, kinds):
                fo = FormOperand(spec.name, spec.write, kind, p)
                p += kind.bits
                names = list(spec.flags)
                if not spec.write and kind.name in ("R", "G", "L"):
                    names.append("reuse")
                for f in names:
                    if kind.name not in FLAG_KINDS[f]:
                        continue  # e.g. `neg` listed for R|U32 applies to R only
                    fo.flags.append(Field(f, p, flags[f]["bits"]))
                    p += flags[f]["bits"]
                fops.append(fo)
            if p > hi:
                raise SpecError(f"{where} form {index}: fields end at bit {p}, past bit {hi - 1}")
            inst.forms.append(Form(inst, index, fops, p))


def is_wide(k: Kind) -> bool:
    return k.name in ("F32", "C", "CX") or (k.name in "US" and k.bits > 16)


def text_ambiguous(a: Form, b: Form) -> bool:
    if len(a.operands) != len(b.operands):
        return False
    return all(TEXT_CLASS[x.kind.name] & TEXT_CLASS[y.kind.name] for x, y in zip(a.operands, b.operands))


def check_unique(insts: list[Inst]) -> None:
    """Every text must select at most one form: forms of one mnemonic whose operand kinds could
    both match a text must be told apart by a required modifier the other cannot accept."""
    by_name: dict[str, list[Form]] = {}
    for inst in insts:
        for f in inst.forms:
            by_name.setdefault(inst.name, []).append(f)
    for name, forms in by_name.items():
        for a, b in itertools.combinations(forms, 2):
            if not text_ambiguous(a, b):
                continue
            if a.inst is b.inst:
                raise SpecError(f"{name}: forms {a.index} and {b.index} accept the same operand text")

            def separates(x: Inst, y: Inst) -> bool:
                accepted = {o for g in y.mods for o in g.options}
                return any(g.required and not (set(g.options) & accepted) for g in x.mods)

            if not (separates(a.inst, b.inst) or separates(b.inst, a.inst)):
                raise SpecError(f"{name} (opcodes {a.inst.opcode:#x} and {b.inst.opcode:#x}): forms accept "
                                "the same text; give one a required modifier the other cannot take")


# ---------------------------------------------------------------- Rust output

def rs_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rust(insts: list[Inst], enc: dict) -> str:
    out = ["// @generated by isa/generate.py from isa/*.toml. DO NOT EDIT.",
           "// Rebuild with `python3 isa/generate.py`; CI fails when this file is stale.",
           "",
           "use crate::class::*;",
           "use crate::spec::*;",
           "",
           f"/// Version of the binary program format that this instruction table encodes.",
           f"pub const FORMAT_VERSION: u32 = {enc['format_version']};",
           ""]
    lay = enc["layout"]
    for key in ("opcode", "form", "guard", "fields", "control", "control_present"):
        lo, w = lay[key]
        out.append(f"pub const {key.upper()}_FIELD: BitField = BitField {{ lo: {lo}, width: {w} }};")
    for key, (lo, w) in enc["control"].items():
        out.append(f"/// Offset inside the control field.")
        out.append(f"pub const CONTROL_{key.upper()}: BitField = BitField {{ lo: {lo}, width: {w} }};")
    out.append("")
    out.append("/// Special registers by name, with their encoding.")
    out.append("pub static SPECIAL_REGISTERS: &[(&str, u8)] = &[")
    for n, v in enc["special_registers"].items():
        out.append(f"    ({rs_str(n)}, {v}),")
    out.append("];")
    out.append("")
    for fname, f in enc["flags"].items():
        if "options" in f:
            opts = ", ".join(rs_str(o) for o in f["options"])
            out.append(f"pub static FLAG_{fname.upper()}_OPTIONS: &[&str] = &[{opts}];")
    out.append("")
    out.append("/// The opcode of every instruction family, by mnemonic and fixed modifiers.")
    out.append("pub mod opcode {")
    for op, n in sorted(opcode_names(insts).items()):
        out.append(f"    pub const {n}: u16 = {op:#05x};")
    out.append("}")
    out.append("")
    out += rust_modifiers(insts)
    out.append("/// Every encoding form, sorted by (opcode, form).")
    out.append("pub static FORMS: &[FormDef] = &[")
    all_forms = sorted((f for i in insts for f in i.forms), key=lambda f: (f.inst.opcode, f.index))
    flag_enum = {"neg": "Neg", "abs": "Abs", "not": "Not", "reuse": "Reuse", "swz": "Swz",
                 "hsel": "Hsel", "bsel": "Bsel", "layout": "Layout"}
    for f in all_forms:
        i = f.inst
        mods = []
        for g in i.mods:
            opts = ", ".join(rs_str(o) for o in g.options)
            regs = "&[" + ", ".join(str(r) for r in g.regs) + "]" if g.regs else "&[]"
            mods.append(f"ModGroupDef {{ name: {rs_str(g.name)}, options: &[{opts}], regs: {regs}, "
                        f"field: BitField {{ lo: {g.lo}, width: {g.width} }} }}")
        ops = []
        for o in f.operands:
            k = o.kind
            kind = {"R": "Kind::R", "G": f"Kind::G({k.count})", "L": f"Kind::L({k.count})", "P": "Kind::P", "U": f"Kind::U({k.bits})",
                    "S": f"Kind::S({k.bits})", "F32": "Kind::F32", "F16": "Kind::F16", "C": "Kind::C",
                    "CX": "Kind::CX", "M": "Kind::M", "SR": "Kind::SR", "B": "Kind::B", "SB": "Kind::SB",
                    "T": "Kind::T", "PR": "Kind::PR"}[k.name]
            regs_from = "None"
            if k.regs_from:
                regs_from = f"Some({[g.name for g in i.mods].index(k.regs_from)})"
            flags = ", ".join(f"FlagField {{ flag: Flag::{flag_enum[x.flag]}, field: BitField {{ lo: {x.lo}, "
                              f"width: {x.width} }} }}" for x in o.flags)
            ops.append(f"OperandDef {{ name: {rs_str(o.name)}, kind: {kind}, write: {str(o.write).lower()}, "
                       f"regs_from: {regs_from}, field: BitField {{ lo: {o.lo}, width: {k.bits} }}, "
                       f"flags: &[{flags}] }}")
        out.append("    FormDef {")
        out.append(f"        mnemonic: {rs_str(i.name)},")
        out.append(f"        opcode: {i.opcode:#05x},")
        out.append(f"        form: {f.index},")
        out.append(f"        unit: Unit::{i.unit.capitalize()},")
        out.append(f"        class: {class_expr(i.cls)},")
        out.append(f"        summary: {rs_str(i.summary)},")
        out.append("        mods: &[" + "".join(f"\n            {m}," for m in mods) + ("\n        " if mods else "") + "],")
        out.append("        operands: &[" + "".join(f"\n            {o}," for o in ops) + ("\n        " if ops else "") + "],")
        out.append("    },")
    out.append("];")
    out.append("")
    return "\n".join(out)


def camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def class_expr(name: str) -> str:
    c = next(c for c in CLASSES if c.name == name)
    if not c.family:
        return f"Class::{camel(c.local)}"
    return f"Class::{camel(c.family)}({camel(c.family)}Class::{camel(c.local)})"


def opcode_names(insts: list[Inst]) -> dict[int, str]:
    """A constant name per opcode: the mnemonic plus its fixed modifiers (`HMMA_OHMMA_8161_F32_F32_SP`),
    with the opcode appended where that is still ambiguous (`IADD3_021`)."""
    names = {}
    for inst in insts:
        fixed = [g.options[0] for g in inst.mods if len(g.options) == 1 and g.options[0]]
        names[inst.opcode] = "_".join([inst.name] + fixed).upper()
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {op: (n if counts[n] == 1 else f"{n}_{op:03X}") for op, n in names.items()}


def modifier_enums(insts: list[Inst]) -> list[tuple[str, str, list[str], list[str]]]:
    """Enums for the modifier groups whose options are words (`cmp=F|LT|...`): (enum name, group,
    options, mnemonics). Option lists of one group name that extend each other share an enum (the
    longest list; a shorter list's option index is then the enum's); a group name with lists that
    do not is one enum per longest list, named after its first mnemonic (`IsetpCmp`)."""
    lists: dict[str, list[tuple[list[str], str]]] = {}
    for inst in insts:
        for g in inst.mods:
            if len(g.options) >= 2 and all(o[:1].isalpha() for o in g.options):
                lists.setdefault(g.name, []).append((g.options, inst.name))
    out = []
    for group, entries in lists.items():
        chains: list[tuple[list[str], list[str]]] = []  # (longest options, mnemonics)
        for opts, mn in sorted(entries, key=lambda e: -len(e[0])):
            for chain in chains:
                if chain[0][:len(opts)] == opts:
                    if mn not in chain[1]:
                        chain[1].append(mn)
                    break
            else:
                chains.append((list(opts), [mn]))
        for opts, mns in chains:
            name = camel(group) if len(chains) == 1 else camel(mns[0].lower()) + camel(group)
            if any(name == o[0] for o in out):
                name += camel(opts[0].lower())  # ATOMG's `op=CAS|CAST` beside `op=ADD|...`
            out.append((name, group, opts, sorted(mns)))
    return sorted(out)


def rust_modifiers(insts: list[Inst]) -> list[str]:
    out = ["/// Modifier groups as enums: `Enum::ALL[i]` is option `i` of the group (`Instruction::mods`).",
           "pub mod mods {"]
    for name, group, opts, mns in modifier_enums(insts):
        variants = [camel(o.lower()) for o in opts]
        out += [f"    /// `{group}` of {', '.join(mns)}.",
                "    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]",
                f"    pub enum {name} {{"]
        out += [f"        {v}," for v in variants]
        out += ["    }", "", f"    impl crate::spec::ModifierEnum for {name} {{",
                f"        const GROUP: &'static str = {rs_str(group)};",
                f"        const ALL: &'static [{name}] = &[" + ", ".join(f"{name}::{v}" for v in variants) + "];",
                "        fn text(self) -> &'static str {", "            match self {"]
        out += [f"                {name}::{v} => {rs_str(o)}," for v, o in zip(variants, opts)]
        out += ["            }", "        }", "    }", ""]
    out[-1] = "}"
    out.append("")
    return out


def rust_classes() -> str:
    out = ["// @generated by isa/generate.py from the [[class]] entries of isa/*.toml. DO NOT EDIT.",
           "// Rebuild with `python3 isa/generate.py`; CI fails when this file is stale.",
           "//! Instruction classes: what kind of work an instruction is. Every form of the table carries",
           "//! its class ([`crate::FormDef::class`]); the decoder, the cycle model and the statistics",
           "//! dispatch on it.",
           ""]
    bare = [c for c in CLASSES if not c.family]
    families = [f for f in CLASS_FAMILIES if any(c.family == f for c in CLASSES)]
    derive = "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]"
    out += ["/// An instruction class (`isa/*.toml` `[[class]]`).", derive, "pub enum Class {"]
    for c in bare:
        out += [f"    /// {c.summary}", f"    {camel(c.local)},"]
    for f in families:
        out.append(f"    {camel(f)}({camel(f)}Class),")
    out += ["}", ""]
    for f in families:
        members = [c for c in CLASSES if c.family == f]
        e = f"{camel(f)}Class"
        out += [f"/// The `{f}.*` classes.", derive, f"pub enum {e} {{"]
        for c in members:
            out += [f"    /// {c.summary}", f"    {camel(c.local)},"]
        out += ["}", "", f"impl {e} {{",
                f"    /// Every `{f}.*` class, in declaration order (`as usize` indexes it).",
                f"    pub const ALL: [{e}; {len(members)}] = [" + ", ".join(f"{e}::{camel(c.local)}" for c in members) + "];",
                f"    /// Number of `{f}.*` classes.",
                f"    pub const COUNT: usize = {len(members)};",
                "",
                f"    /// The name after `{f}.` (`{members[0].local}`).",
                "    pub const fn name(self) -> &'static str {", "        match self {"]
        out += [f"            {e}::{camel(c.local)} => {rs_str(c.local)}," for c in members]
        out += ["        }", "    }"]
        if f == "tensor":
            out += ["",
                    "    /// The keys of the machine file's `[tensor.<name>]` table that the cycle model reads for",
                    "    /// the class (`costs` in `isa/*.toml`; `cycles` always).",
                    "    pub const fn costs(self) -> &'static [&'static str] {", "        match self {"]
            out += [f"            {e}::{camel(c.local)} => &[" + ", ".join(rs_str(x) for x in c.costs) + "],"
                    for c in members]
            out += ["        }", "    }"]
        out += ["}", ""]
    all_classes = [class_expr(c.name) for c in CLASSES]
    out += ["impl Class {",
            "    /// Every class, in declaration order.",
            f"    pub const ALL: [Class; {len(CLASSES)}] = [" + ", ".join(all_classes) + "];",
            "",
            "    /// The class's name in `isa/*.toml` (`tensor.ohmma_sparse`).",
            "    pub const fn name(self) -> &'static str {", "        match self {"]
    out += [f"            {class_expr(c.name)} => {rs_str(c.name)}," for c in CLASSES]
    out += ["        }", "    }", "",
            "    /// The prefix of the cycle model's counters that report the class.",
            "    pub const fn stats(self) -> &'static str {", "        match self {"]
    out += [f"            {class_expr(c.name)} => {rs_str(c.stats)}," for c in CLASSES]
    out += ["        }", "    }", "",
            "    /// One line on what the class is.",
            "    pub const fn summary(self) -> &'static str {", "        match self {"]
    out += [f"            {class_expr(c.name)} => {rs_str(c.summary)}," for c in CLASSES]
    out += ["        }", "    }", "}", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- docs

def syntax(inst: Inst) -> str:
    mods = "".join(f".{g.name.upper()}" if g.required else f"[.{g.name.upper()}]" for g in inst.mods)
    ops = []
    for o in inst.operands:
        kinds = "|".join(k.name + (str(k.count) if k.name in "GL" else "") +
                         (str(k.bits) if k.name in "US" else "") for k in o.kinds)
        ops.append(f"{o.name}:{kinds}")
    return f"{inst.name}{mods} " + ", ".join(ops)


def docs(insts: list[Inst], enc: dict) -> str:
    out = ["<!-- @generated by isa/generate.py from isa/*.toml. DO NOT EDIT. Rebuild: python3 isa/generate.py -->",
           "", "# otc-emu instruction set reference", "",
           "Generated from the instruction definitions in `isa/`. Syntax is SASS as `cuobjdump -sass` prints it "
           "for sm_70, plus the outer-product tensor-core extensions. Operands marked `>` are written. "
           "The register layouts of the tensor instructions' fragments are tabulated in "
           "[fragments.md](fragments.md); execution semantics and decisions are in [semantics.md](semantics.md).",
           "", "## Instruction word", "",
           "| field | bits | meaning |", "|---|---|---|"]
    meaning = {"opcode": "instruction family", "form": "operand-kind combination",
               "guard": "guard predicate (index, bit 3 negates; 7 = PT)",
               "fields": "modifier and operand fields, allocated per form (tables below)",
               "control": "Volta control bits (stall, yield, barriers, wait mask)",
               "control_present": "1 when control bits were given", "reserved": "zero"}
    for k, (lo, w) in enc["layout"].items():
        out.append(f"| {k} | {lo}..{lo + w - 1} | {meaning[k]} |")
    out += ["", "Control bits (offsets from bit 105), written `[B------:R-:W-:Y:S04]`:", "",
            "| field | offset | width |", "|---|---|---|"]
    for k, (lo, w) in enc["control"].items():
        out.append(f"| {k} | {lo} | {w} |")
    out += ["", "## Operand kinds", "", "| kind | field bits | text |", "|---|---|---|"]
    for k, v in enc["kinds"].items():
        out.append(f"| {k} | {v['bits'] or 'declared'} | {v['text']} |")
    out += ["", "Register flags:", "", "| flag | bits | text |", "|---|---|---|"]
    for k, v in enc["flags"].items():
        out.append(f"| {k} | {v['bits']} | {v['text']} |")
    out += ["", "## Special registers", "", "| name | code |", "|---|---|"]
    for n, v in enc["special_registers"].items():
        out.append(f"| {n} | {v} |")
    by_unit: dict[str, list[Inst]] = {}
    for inst in insts:
        by_unit.setdefault(inst.source, []).append(inst)
    out += ["", "## Instructions", ""]
    out.append("| mnemonic | opcode | unit | class | forms | summary |")
    out.append("|---|---|---|---|---|---|")
    for inst in sorted(insts, key=lambda i: (i.name, i.opcode)):
        out.append(f"| [{inst.name}](#{inst.name.lower()}-{inst.opcode:#05x}) | {inst.opcode:#05x} | {inst.unit} | "
                   f"{inst.cls} | {len(inst.forms)} | {inst.summary} |")
    out += ["", "## Instruction classes", "",
            "Every instruction names its class (`class`); the decoder, the cycle model and the statistics "
            "dispatch on it. `stats` is the prefix of the cycle model's counters that report the class; "
            "the tensor classes' costs are the `[tensor.<class>]` tables of the machine file "
            "([timing.md](timing.md)).", "",
            "| class | stats | instructions | summary |", "|---|---|---|---|"]
    for c in CLASSES:
        members = sorted({i.name for i in insts if i.cls == c.name})
        shown = ", ".join(members) if len(members) <= 6 else f"{len(members)} mnemonics"
        out.append(f"| `{c.name}` | `{c.stats}` | {shown} | {c.summary} |")
    for source, group in by_unit.items():
        out += ["", f"## From `isa/{source}`", ""]
        for inst in group:
            out += [f"### {inst.name} {inst.opcode:#05x}", "", inst.summary, "",
                    f"`{syntax(inst)}` (unit: {inst.unit}, class: `{inst.cls}`)", ""]
            if inst.doc:
                out += [inst.doc, ""]
            if inst.mods:
                out += ["| modifier group | options (first = default when optional) |", "|---|---|"]
                for g in inst.mods:
                    opts = ", ".join(f"`{o}`" if o else "(none)" for o in g.options)
                    if g.regs:
                        opts += " — registers: " + ", ".join(str(r) for r in g.regs)
                    out.append(f"| {g.name}{'' if g.required else ' (optional)'} | {opts} |")
                out.append("")
            out += ["| form | operands: field bits |", "|---|---|"]
            for f in inst.forms:
                parts = []
                for o in f.operands:
                    k = o.kind
                    kn = k.name + (str(k.count) if k.name in "GL" else "") + (str(k.bits) if k.name in "US" else "")
                    desc = f"{'>' if o.write else ''}{o.name}:{kn} {o.lo}..{o.lo + k.bits - 1}" if k.bits else \
                        f"{o.name}:{kn}"
                    for x in o.flags:
                        desc += f" {x.flag}@{x.lo}" + (f"..{x.lo + x.width - 1}" if x.width > 1 else "")
                    parts.append(desc)
                mods = ", ".join(f"{g.name}@{g.lo}..{g.lo + g.width - 1}" for g in inst.mods if g.width)
                out.append(f"| {f.index} | {'; '.join(([mods] if mods else []) + parts) or '(none)'} |")
            out.append("")
    if MACROS:
        out += ["## Assembler macros", "",
                "Macros expand into the instructions above when assembled; the disassembly shows the expansion.", ""]
        for m in MACROS:
            out += [f"### {m.name}", "", m.summary, "", f"`{m.syntax}` (from `isa/{m.source}`)", "", m.doc, ""]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if the generated files are stale")
    args = ap.parse_args()
    try:
        enc = tomllib.loads((ISA_DIR / "encoding.toml").read_text())
        insts = load(enc)
        layout(insts, enc)
        check_unique(insts)
    except (SpecError, tomllib.TOMLDecodeError, KeyError, ValueError) as e:
        print(f"isa/generate.py: invalid instruction set: {e}", file=sys.stderr)
        return 1
    outputs = {RUST_OUT: rust(insts, enc), CLASS_OUT: rust_classes(), DOCS_OUT: docs(insts, enc)}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"isa/generate.py: {p.relative_to(ROOT)} is stale; run `python3 isa/generate.py`", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(outputs[p])
        print(f"wrote {p.relative_to(ROOT)}")
    nforms = sum(len(i.forms) for i in insts)
    print(f"{len(insts)} instructions, {len(CLASSES)} classes, {nforms} forms: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
