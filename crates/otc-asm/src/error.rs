//! Assembler and program-format errors.

use std::fmt;

/// What kind of mistake an [`AsmError`] reports (stable names, exposed to Python as `.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsmErrorKind {
    /// A character or token the syntax does not allow here.
    Syntax,
    /// No such instruction mnemonic.
    UnknownMnemonic,
    /// A modifier the instruction does not take.
    BadModifier,
    /// Wrong number of operands.
    OperandCount,
    /// An operand of the wrong kind.
    OperandKind,
    /// A value that does not fit its field (register past R254, immediate too large, ...).
    OutOfRange,
    /// A register group that is not aligned or not consecutive.
    BadRegisterGroup,
    /// A label used but never defined, or defined twice.
    Label,
    /// A branch target that is not the address of an instruction.
    BadTarget,
    /// A directive (`.kernel`, `.param`, ...) that is malformed or misplaced.
    Directive,
    /// A malformed `cuobjdump` listing.
    Listing,
    /// A binary program that is truncated, corrupted or of another version.
    BinaryFormat,
    /// A `.cubin` (ELF) file that cannot be read, or does not match the program.
    Cubin,
    /// Anything else (too large an input, I/O).
    Other,
}

impl AsmErrorKind {
    /// Lower-case name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            AsmErrorKind::Syntax => "syntax",
            AsmErrorKind::UnknownMnemonic => "unknown-mnemonic",
            AsmErrorKind::BadModifier => "bad-modifier",
            AsmErrorKind::OperandCount => "operand-count",
            AsmErrorKind::OperandKind => "operand-kind",
            AsmErrorKind::OutOfRange => "out-of-range",
            AsmErrorKind::BadRegisterGroup => "bad-register-group",
            AsmErrorKind::Label => "label",
            AsmErrorKind::BadTarget => "bad-target",
            AsmErrorKind::Directive => "directive",
            AsmErrorKind::Listing => "listing",
            AsmErrorKind::BinaryFormat => "binary-format",
            AsmErrorKind::Cubin => "cubin",
            AsmErrorKind::Other => "other",
        }
    }
}

/// An error with the place it was found: `source:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    pub kind: AsmErrorKind,
    pub source_name: String,
    /// 1-based line (0 when the error has no line, e.g. in a binary file).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    pub message: String,
}

impl AsmError {
    pub fn new(kind: AsmErrorKind, source_name: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        AsmError { kind, source_name: source_name.to_string(), line, column, message: message.into() }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.source_name, self.message),
            (l, 0) => write!(f, "{}:{}: {}", self.source_name, l, self.message),
            (l, c) => write!(f, "{}:{}:{}: {}", self.source_name, l, c, self.message),
        }
    }
}

impl std::error::Error for AsmError {}

/// An error local to one line: column and message, placed by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineError {
    pub kind: AsmErrorKind,
    /// 0-based byte offset in the line.
    pub offset: usize,
    pub message: String,
}

impl LineError {
    pub fn new(kind: AsmErrorKind, offset: usize, message: impl Into<String>) -> Self {
        LineError { kind, offset, message: message.into() }
    }
}
