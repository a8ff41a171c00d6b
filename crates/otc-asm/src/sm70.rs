//! NVIDIA sm_70 instruction words -> `cuobjdump -sass` text, by the table
//! `isa/sm70/encoding.toml` that `python3 isa/sm70_learn.py` learns from the committed listings
//! (docs/cubin.md). Nothing here names an instruction: the table does. The Python twin of this
//! decoder (`decode` in sm70_learn.py) checks the table against every word of the corpus.
//!
//! A word is decoded by its opcode (bits 0..11): each group of the opcode masks out the bits its
//! operand fields and flag bits take (and the guard and control bits); the rest of the word, the
//! residual, must be one of the group's forms, which gives the mnemonic with its modifiers and
//! what the residual stands for in each operand. Groups are tried in the table's order (the
//! most specific first). A word no group takes is an error, never a guess.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE_TEXT: &str = include_str!("../../../isa/sm70/encoding.toml");

struct Field {
    op: usize,
    name: String,
    pos: u32,
    width: u32,
    signed: bool,
    scale: i64,
    relative: bool,
}

/// What a residual stands for in one operand.
#[derive(Default)]
struct Fixed {
    flags: Vec<String>,
    suffix: String,
    values: HashMap<String, Value>,
}

#[derive(Clone, PartialEq)]
enum Value {
    Int(i64),
    Name(String),
}

struct Form {
    mnemonic: String,
    operands: Vec<Fixed>,
}

struct Group {
    kinds: Vec<String>,
    separators: Vec<String>,
    mask: u128,
    fields: Vec<Field>,
    flags: Vec<(usize, String, u32)>,
    pow2: Vec<usize>,
    hide_pt: Vec<(String, usize)>,
    names: HashMap<i64, String>,
    forms: HashMap<u128, Form>,
}

struct Table {
    groups: HashMap<u16, Vec<Group>>,
    /// The mnemonic (without modifiers) of each known opcode, for error messages.
    names: HashMap<u16, String>,
}

fn hex128(v: &toml::Value) -> u128 {
    let s = v.as_str().unwrap_or("0x0");
    u128::from_str_radix(s.trim_start_matches("0x"), 16).expect("sm70/encoding.toml: hex")
}

fn int(v: &toml::Value) -> i64 {
    v.as_integer().expect("sm70/encoding.toml: integer")
}

fn string(v: &toml::Value) -> String {
    v.as_str().expect("sm70/encoding.toml: string").to_string()
}

fn array(v: Option<&toml::Value>) -> &[toml::Value] {
    v.and_then(|v| v.as_array()).map_or(&[], |a| a.as_slice())
}

fn parse_table() -> Table {
    let doc: toml::Table = TABLE_TEXT.parse().expect("isa/sm70/encoding.toml parses (it is generated)");
    let mut groups: HashMap<u16, Vec<Group>> = HashMap::new();
    let mut names = HashMap::new();
    for g in array(doc.get("group")) {
        let opcode = int(&g["opcode"]) as u16;
        let fields = array(g.get("fields"))
            .iter()
            .map(|f| {
                let f = f.as_array().expect("field");
                Field {
                    op: int(&f[0]) as usize,
                    name: string(&f[1]),
                    pos: int(&f[2]) as u32,
                    width: int(&f[3]) as u32,
                    signed: int(&f[4]) != 0,
                    scale: int(&f[5]),
                    relative: f[6].as_str() == Some("rel"),
                }
            })
            .collect();
        let flags = array(g.get("flags"))
            .iter()
            .map(|f| {
                let f = f.as_array().expect("flag");
                (int(&f[0]) as usize, string(&f[1]), int(&f[2]) as u32)
            })
            .collect();
        let pow2 = array(g.get("pow2")).iter().map(|v| int(v) as usize).collect();
        let hide_pt = array(g.get("hide_pt"))
            .iter()
            .map(|h| {
                let h = h.as_array().expect("hide_pt");
                (string(&h[0]), int(&h[1]) as usize)
            })
            .collect();
        let enum_names = array(g.get("names"))
            .iter()
            .map(|n| {
                let n = n.as_array().expect("name");
                (int(&n[0]), string(&n[1]))
            })
            .collect();
        let mut forms = HashMap::new();
        for f in array(g.get("form")) {
            let mnemonic = string(&f["mnemonic"]);
            names.entry(opcode).or_insert_with(|| mnemonic.split('.').next().unwrap_or("").to_string());
            let operands = array(f.get("operands"))
                .iter()
                .map(|o| {
                    let o = o.as_table().expect("operand");
                    let mut fixed = Fixed::default();
                    for (k, v) in o {
                        match k.as_str() {
                            "flags" => fixed.flags = array(Some(v)).iter().map(string).collect(),
                            "suffix" => fixed.suffix = string(v),
                            _ => {
                                let value = match v.as_str() {
                                    Some(s) => Value::Name(s.to_string()),
                                    None => Value::Int(int(v)),
                                };
                                fixed.values.insert(k.clone(), value);
                            }
                        }
                    }
                    fixed
                })
                .collect();
            forms.insert(hex128(&f["residual"]), Form { mnemonic, operands });
        }
        groups.entry(opcode).or_default().push(Group {
            kinds: array(g.get("kinds")).iter().map(string).collect(),
            separators: array(g.get("separators")).iter().map(string).collect(),
            mask: hex128(&g["mask"]),
            fields,
            flags,
            pow2,
            hide_pt,
            names: enum_names,
            forms,
        });
    }
    Table { groups, names }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(parse_table)
}

fn extract(word: u128, f: &Field) -> i64 {
    let raw = ((word >> f.pos) & ((1u128 << f.width) - 1)) as i64;
    let v = if f.signed && raw >> (f.width - 1) & 1 == 1 { raw - (1i64 << f.width) } else { raw };
    v * f.scale
}

/// Why a word did not decode: the opcode's mnemonic when the opcode is known (a form of it the
/// corpus does not have), else the known opcode nearest to it (fewest differing bits).
pub fn nearest_known(word: u128) -> String {
    let t = table();
    let op = (word & 0xfff) as u16;
    if let Some(name) = t.names.get(&op) {
        return format!("opcode {op:#05x} is {name}, but not with these modifiers or operand forms");
    }
    let best = t.names.iter().min_by_key(|(k, _)| ((**k ^ op).count_ones(), **k));
    match best {
        Some((k, name)) => format!("unknown opcode {op:#05x}; the nearest known opcode is {k:#05x} ({name})"),
        None => format!("unknown opcode {op:#05x}"),
    }
}

fn reg_name(r: i64) -> String {
    if r == 255 {
        "RZ".into()
    } else {
        format!("R{r}")
    }
}

fn signed_hex(v: i64) -> String {
    if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

fn float_text(bits: i64, kind: &str) -> String {
    let (value, nan_sign) = match kind {
        "F16" => {
            let h = half::f16::from_bits(bits as u16);
            (h.to_f64(), bits >> 15 & 1 == 1)
        }
        "F64" => (f64::from_bits((bits as u64) << 32), bits >> 31 & 1 == 1),
        _ => (f32::from_bits(bits as u32) as f64, bits >> 31 & 1 == 1),
    };
    if value.is_nan() {
        if kind == "F32" {
            return format!("0f{:08x}", bits as u32); // the payload, which `-QNAN` does not give
        }
        return if nan_sign { "-QNAN".into() } else { "+QNAN".into() };
    }
    if value.is_infinite() {
        return if value > 0.0 { "+INF".into() } else { "-INF".into() };
    }
    match kind {
        "F32" => format!("{}", value as f32), // shortest text that reads back to the same bits
        _ => format!("{value:e}"),
    }
}

fn operand_text(kind: &str, v: &HashMap<String, Value>, flags: &[String], suffix: &str) -> Option<String> {
    let get = |k: &str| match v.get(k) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    };
    let has = |f: &str| flags.iter().any(|x| x == f);
    if let Some(lit) = kind.strip_prefix("LIT:") {
        return Some(lit.to_string());
    }
    Some(match kind {
        "SR" => match v.get("sr") {
            Some(Value::Name(n)) => n.clone(),
            _ => return None,
        },
        "B" => format!("B{}", get("b")?),
        "P" => {
            let p = get("p")?;
            let name = if p == 7 { "PT".to_string() } else { format!("P{p}") };
            format!("{}{name}", if has("not") { "!" } else { "" })
        }
        "R" | "C" => {
            let mut core =
                if kind == "R" { reg_name(get("r")?) } else { format!("c[{:#x}][{:#x}]", get("bank")?, get("coff")?) };
            if has("not") {
                core = format!("~{core}");
            }
            if has("abs") {
                core = format!("|{core}|");
            }
            if has("neg") {
                core = format!("-{core}");
            }
            if has("reuse") {
                core.push_str(".reuse");
            }
            if !suffix.is_empty() {
                core = format!("{core}.{suffix}");
            }
            core
        }
        "CX" => {
            let off = get("coff")?;
            let off = if off != 0 { format!("+{}", signed_hex(off)) } else { String::new() };
            format!("c[{:#x}][{}{off}]", get("bank")?, reg_name(get("r")?))
        }
        "M" => {
            let (r, off) = (get("r")?, get("moff")?);
            if r == 255 && off != 0 {
                format!("[{off:#x}]")
            } else {
                let off = if off != 0 { format!("+{}", signed_hex(off)) } else { String::new() };
                format!("[{}{off}]", reg_name(r))
            }
        }
        "I" => signed_hex(get("i")?),
        "T" => format!("{:#x}", get("t")?),
        "F32" | "F64" | "F16" => float_text(get("f")?, kind),
        _ => return None,
    })
}

/// The text of the instruction word `word` (bits 0..63 the first 64-bit half cuobjdump prints,
/// 64..127 the second) at byte offset `pc` of its function, as `cuobjdump -sass` prints it
/// (without the address and encoding comments); None if the table has no form for it.
pub fn decode_word(word: u128, pc: u32) -> Option<String> {
    let t = table();
    let groups = t.groups.get(&((word & 0xfff) as u16))?;
    'groups: for g in groups {
        let Some(form) = g.forms.get(&(word & !g.mask)) else { continue };
        let mut values: Vec<HashMap<String, Value>> = form.operands.iter().map(|o| o.values.clone()).collect();
        let mut flags: Vec<Vec<String>> = form.operands.iter().map(|o| o.flags.clone()).collect();
        for f in &g.fields {
            let mut v = extract(word, f);
            if f.relative {
                v += pc as i64 + 16;
            }
            let value = if f.name == "sr" {
                match g.names.get(&v) {
                    Some(n) => Value::Name(n.clone()),
                    None => continue 'groups,
                }
            } else {
                Value::Int(v)
            };
            values[f.op].insert(f.name.clone(), value);
        }
        for &op in &g.pow2 {
            let ok = g.fields.iter().any(|f| {
                f.op == op && f.name == "i" && {
                    let v = extract(word, f);
                    v > 0 && v & (v - 1) == 0
                }
            });
            if !ok {
                continue 'groups;
            }
        }
        for (op, flag, bit) in &g.flags {
            if word >> bit & 1 == 1 {
                flags[*op].push(flag.clone());
            }
        }
        let mut text = String::new();
        let guard = (word >> 12 & 0xf) as u8;
        if guard != 7 {
            let p = if guard & 7 == 7 { "PT".to_string() } else { format!("P{}", guard & 7) };
            text.push_str(&format!("@{}{p} ", if guard & 8 != 0 { "!" } else { "" }));
        }
        text.push_str(&form.mnemonic);
        let mut first = true;
        for (i, kind) in g.kinds.iter().enumerate() {
            let hidden = g.hide_pt.iter().any(|(m, j)| *m == form.mnemonic && *j == i);
            if hidden && values[i].get("p") == Some(&Value::Int(7)) && flags[i].is_empty() {
                continue;
            }
            let op = operand_text(kind, &values[i], &flags[i], &form.operands[i].suffix)?;
            text.push_str(if first { " " } else { &g.separators[i] });
            text.push_str(&op);
            first = false;
        }
        text.push_str(" ;");
        return Some(text);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(lo: u64, hi: u64) -> u128 {
        lo as u128 | (hi as u128) << 64
    }

    #[test]
    fn decodes_words_of_the_listings() {
        // (pc, low word, high word, text as cuobjdump prints it), from tests/fixtures/sass/vecadd.sass
        let cases = [
            (0x0, 0x00000a0000017a02, 0x000fc40000000f00, "MOV R1, c[0x0][0x28] ;"),
            (0x10, 0x000000fffffff389, 0x000fe200000e00ff, "@!PT SHFL.IDX PT, RZ, RZ, RZ, RZ ;"),
            (0x20, 0x0000000000047919, 0x000e280000002500, "S2R R4, SR_CTAID.X ;"),
            (0x50, 0x0000580004007a0c, 0x000fd80003f06270, "ISETP.GE.AND P0, PT, R4, c[0x0][0x160], PT ;"),
            (0x60, 0x000000000000094d, 0x000fea0003800000, "@P0 EXIT ;"),
            (0x80, 0x00005a0004027625, 0x000fc800078e0205, "IMAD.WIDE R2, R4, R5, c[0x0][0x168] ;"),
            (0xa0, 0x0000000002027381, 0x000ea800001ee900, "LDG.E.SYS R2, [R2] ;"),
            (0xf0, 0xfffffff000007947, 0x000fc0000383ffff, "BRA 0xf0 ;"),
        ];
        for (pc, lo, hi, text) in cases {
            assert_eq!(decode_word(word(lo, hi), pc).as_deref(), Some(text), "{lo:#x}");
        }
    }

    /// A word of each form of the table: its residual, the opcode, no guard, and each field a
    /// value the assembler takes (registers R0, branch targets 0, a known special register).
    fn sample_word(opcode: u16, g: &Group, residual: u128) -> u128 {
        let mut w = residual | opcode as u128 | 7 << 12;
        for f in &g.fields {
            let raw: i64 = match (f.name.as_str(), f.relative) {
                ("t", true) => -16 / f.scale, // target 0 from the instruction at 0
                ("sr", _) => *g.names.keys().min().unwrap(),
                ("p", _) => 7,
                _ => 0,
            };
            w |= ((raw as u128) & ((1u128 << f.width) - 1)) << f.pos;
        }
        w
    }

    #[test]
    fn every_form_of_the_table_decodes_to_text_the_assembler_takes() {
        let t = table();
        let mut checked = 0;
        for (&opcode, groups) in &t.groups {
            for g in groups {
                for (&residual, form) in &g.forms {
                    if !g.pow2.is_empty() {
                        continue; // needs a power of two in its immediate: covered by the corpus tests
                    }
                    let w = sample_word(opcode, g, residual);
                    let text = decode_word(w, 0).unwrap_or_else(|| panic!("{} ({w:#034x})", form.mnemonic));
                    let listing = format!(
                        "\tcode for sm_70\n\t\tFunction : t\n        /*0000*/ {text} /* 0x{:016x} */\n        /* 0x{:016x} */\n",
                        w as u64,
                        (w >> 64) as u64
                    );
                    crate::assemble(&listing, "t").unwrap_or_else(|e| panic!("{text}: {e}"));
                    checked += 1;
                }
            }
        }
        assert!(checked > 400, "{checked}");
    }

    #[test]
    fn unknown_words_name_the_nearest_opcode() {
        assert_eq!(decode_word(word(0xfff, 0), 0), None);
        assert!(nearest_known(word(0xfff, 0)).contains("nearest known opcode"), "{}", nearest_known(word(0xfff, 0)));
        // a MOV with a stray residual bit: the opcode is known, the form is not
        let stray = word(0x00000a0000017a02, 0x000fc40000000f00 | 1 << 40);
        assert_eq!(decode_word(stray, 0), None);
        assert!(nearest_known(stray).contains("is MOV"), "{}", nearest_known(stray));
    }
}
