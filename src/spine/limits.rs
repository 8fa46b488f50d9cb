//! Limits on what a command may carry. Everything that comes from outside is bounded; a command
//! over a limit is refused with `payload_invalid` (or `intake_invalid` for the intake) and a
//! message naming the limit.

/// Longest case id, operator id or idempotency key, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest free text (a reason, a note, an outcome, a routing origin), in bytes.
pub const MAX_TEXT_LEN: usize = 4_096;
/// Longest evidence or photo reference, in bytes.
pub const MAX_REF_LEN: usize = 2_048;
/// Most intake fields.
pub const MAX_INTAKE_FIELDS: usize = 256;
/// Largest intake, as compact JSON, in bytes.
pub const MAX_INTAKE_BYTES: usize = 64 * 1024;
/// Deepest nesting of lists and maps inside an intake value.
pub const MAX_INTAKE_DEPTH: usize = 8;
/// Most photos on one request.
pub const MAX_PHOTOS: usize = 64;
/// Most evidence items on one ServiceEvent.
pub const MAX_EVIDENCE_ITEMS: usize = 1_000;
/// Most notes on one Task.
pub const MAX_NOTES: usize = 1_000;
/// Most settlement writes on one case.
pub const MAX_SETTLEMENT_WRITES: usize = 1_000;
/// Largest absolute settlement amount in minor units (fits every real currency sum).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;
/// Longest operator name (`register_operator`), in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most surfaces one operator profile is bound to.
pub const MAX_OPERATOR_SURFACES: usize = 256;
