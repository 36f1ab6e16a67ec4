//! The grid an epoch's board is drawn on: expiration columns × strike rows.
//!
//! A layout is a pure function of the frozen board, built once per epoch and shared
//! (`Arc`) by every snapshot of that epoch, so a snapshot carries only values and a
//! diff only changed values. Contract `i` of the layout is slot `i` of the board.
//!
//! A column is an expiration *and* a root, because the SPX AM-settled monthly and the
//! SPXW PM-settled weekly can expire on the same date with the same strikes: they
//! are different contracts that settle six and a half hours apart.

use chainboard_engine::Board;
use chainboard_model::{Right, Root, Settlement, Strike};
use chainboard_quant::expiry;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// One expiration column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expiry {
    /// The expiration date in the contract symbols.
    pub date: Date,
    /// The OCC root (SPX, SPXW, …), which fixes the settlement style.
    pub root: Root,
    /// AM or PM settlement.
    pub settlement: Settlement,
    /// The exact settlement moment, Unix ms (see [`chainboard_quant::expiry`]).
    pub settles_ms: i64,
}

/// Where one contract sits on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Index into [`Layout::expirations`].
    pub expiry: u16,
    /// Index into [`Layout::strikes`].
    pub strike: u16,
    /// Call or put.
    pub right: Right,
}

/// The grid of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Columns, in settlement order (then root).
    pub expirations: Vec<Expiry>,
    /// Rows: every distinct strike on the board, ascending.
    pub strikes: Vec<Strike>,
    /// Per board slot, where the contract sits.
    pub positions: Vec<Position>,
}

/// Why a board cannot be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// More than 65,535 columns or rows: no real chain comes close.
    TooLarge,
}

impl Layout {
    /// Lays out `board`, with settlement moments in the exchange time zone `tz`.
    pub fn new(board: &Board, tz: &TimeZone) -> Result<Self, LayoutError> {
        let contracts = board.contracts();
        let mut expirations: Vec<Expiry> = Vec::new();
        let mut strikes: Vec<Strike> = contracts.iter().map(|g| g.key.strike).collect();
        strikes.sort_unstable();
        strikes.dedup();
        for g in contracts {
            let (date, root) = (g.key.expiration, g.key.root);
            if !expirations.iter().any(|e| e.date == date && e.root == root) {
                let settles_ms = expiry::settlement_ms(date, g.settlement, tz).unwrap_or(i64::MAX);
                expirations.push(Expiry {
                    date,
                    root,
                    settlement: g.settlement,
                    settles_ms,
                });
            }
        }
        expirations.sort_by(|a, b| {
            (a.settles_ms, a.date, a.root.as_str()).cmp(&(b.settles_ms, b.date, b.root.as_str()))
        });
        if expirations.len() > usize::from(u16::MAX) || strikes.len() > usize::from(u16::MAX) {
            return Err(LayoutError::TooLarge);
        }
        let positions = contracts
            .iter()
            .map(|g| {
                let expiry = expirations
                    .iter()
                    .position(|e| e.date == g.key.expiration && e.root == g.key.root)
                    .unwrap_or_default();
                let strike = strikes.binary_search(&g.key.strike).unwrap_or_default();
                Position {
                    expiry: u16::try_from(expiry).unwrap_or(u16::MAX),
                    strike: u16::try_from(strike).unwrap_or(u16::MAX),
                    right: g.key.right,
                }
            })
            .collect();
        Ok(Self {
            expirations,
            strikes,
            positions,
        })
    }

    /// Number of contracts (board slots).
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the board is empty.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::TooLarge => f.write_str("more than 65,535 expirations or strikes"),
        }
    }
}

impl std::error::Error for LayoutError {}
