//! The history oracle: every operation is logged as `invoke` before it is issued and `ok` /
//! `fail` after it returns; after recovery, [`History::check`] decides whether the recovered
//! state is one the durability contract allows (C1-C3).
//!
//! The model is sequential (one client thread), as in the in-process tests:
//!
//! * a write (put, delete or batch) is one atomic step of the model;
//! * an acknowledged `sync=true` write, and an acknowledged flush, compaction or close
//!   (each makes every earlier write durable), is a *durability point*;
//! * a failure that certainly applied nothing (`Poisoned`, `Closed`, `InvalidArgument`) is
//!   dropped; any other failure, and an operation with no response (the power went off
//!   during it), is indeterminate: it may or may not be in the recovered state;
//! * after power loss the recovered state must equal the model after some prefix `p` of
//!   the writes with `last durability point <= p <= last issued` (no holes, no reordering;
//!   indeterminate writes in the prefix may go either way); without power loss (a clean
//!   reopen, or a process crash), `p` must be the last issued write.

use std::collections::BTreeMap;

use strata_engine::Error;

/// One write of a batch: a put (`Some(value)`) or a delete (`None`).
pub type Mutation = (Vec<u8>, Option<Vec<u8>>);

/// What an operation was.
#[derive(Debug, Clone)]
pub enum Op {
    /// An atomic write of one or more mutations.
    Write { muts: Vec<Mutation>, sync: bool },
    /// An operation that, when acknowledged, makes every earlier write durable (flush,
    /// compact, close).
    Barrier(&'static str),
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Invoked, no response yet (or never: the power went off).
    Pending,
    /// Acknowledged.
    Ok,
    /// Failed without applying anything.
    NotApplied,
    /// Failed; it may or may not have been applied.
    Unknown,
}

/// One logged operation.
#[derive(Debug, Clone)]
pub struct Entry {
    pub op: Op,
    pub outcome: Outcome,
}

/// The log of one run.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub entries: Vec<Entry>,
}

/// True if the error proves that nothing was applied.
pub fn certainly_not_applied(e: &Error) -> bool {
    matches!(e, Error::Poisoned(_) | Error::Closed | Error::InvalidArgument(_))
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs an operation about to be issued; returns its sequence number.
    pub fn invoke(&mut self, op: Op) -> usize {
        self.entries.push(Entry { op, outcome: Outcome::Pending });
        self.entries.len() - 1
    }

    /// Logs the result of operation `seq`.
    pub fn complete<T>(&mut self, seq: usize, res: &strata_engine::Result<T>) {
        if let Some(e) = self.entries.get_mut(seq) {
            e.outcome = match res {
                Ok(_) => Outcome::Ok,
                Err(err) if certainly_not_applied(err) => Outcome::NotApplied,
                Err(_) => Outcome::Unknown,
            };
        }
    }

    /// Number of logged operations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The model state with every acknowledged write (and no indeterminate one).
    pub fn model(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            if let (Op::Write { muts, .. }, Outcome::Ok) = (&e.op, e.outcome) {
                apply(&mut m, muts);
            }
        }
        m
    }

    /// True if some write's outcome is indeterminate.
    pub fn has_indeterminate(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.op, Op::Write { .. }) && matches!(e.outcome, Outcome::Pending | Outcome::Unknown))
    }

    /// Checks `recovered` against the first `upto` logged operations (the ones issued
    /// before the crash). With `power_loss`, any prefix from the last durability point on
    /// is allowed; without, every acknowledged write must be present. Returns the chosen
    /// prefix length (in operations) or a description of the violation.
    pub fn check(
        &self,
        upto: usize,
        recovered: &BTreeMap<Vec<u8>, Vec<u8>>,
        power_loss: bool,
    ) -> Result<usize, String> {
        let entries = self.entries.get(..upto.min(self.entries.len())).unwrap_or(&[]);
        // The last durability point: every acknowledged write at or before it must be in.
        let mut must = 0usize; // number of leading entries that must be covered
        for (i, e) in entries.iter().enumerate() {
            let durable = matches!((&e.op, e.outcome), (Op::Write { sync: true, .. } | Op::Barrier(_), Outcome::Ok));
            if durable {
                must = i + 1;
            }
        }
        if !power_loss {
            must = entries.len();
        }
        let indeterminate: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(e.op, Op::Write { .. }) && matches!(e.outcome, Outcome::Pending | Outcome::Unknown)
            })
            .map(|(i, _)| i)
            .collect();
        if indeterminate.len() > 12 {
            return Err(format!("{} indeterminate writes: too many to check", indeterminate.len()));
        }
        for mask in 0u64..(1u64 << indeterminate.len()) {
            let included = |i: usize| -> bool {
                match entries.get(i).map(|e| e.outcome) {
                    Some(Outcome::Ok) => true,
                    Some(Outcome::Pending | Outcome::Unknown) => {
                        indeterminate.iter().position(|&j| j == i).is_some_and(|b| mask & (1 << b) != 0)
                    }
                    _ => false,
                }
            };
            // Scan prefixes, keeping the number of keys where model and recovered differ.
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut diff = recovered.len(); // every recovered key is unexplained at first
            let touch = |model: &mut BTreeMap<Vec<u8>, Vec<u8>>, diff: &mut usize, muts: &[Mutation]| {
                for (k, v) in muts {
                    let before = model.get(k) == recovered.get(k);
                    match v {
                        Some(v) => {
                            model.insert(k.clone(), v.clone());
                        }
                        None => {
                            model.remove(k);
                        }
                    }
                    let after = model.get(k) == recovered.get(k);
                    match (before, after) {
                        (true, false) => *diff += 1,
                        (false, true) => *diff -= 1,
                        _ => {}
                    }
                }
            };
            if must == 0 && diff == 0 {
                return Ok(0);
            }
            for (i, e) in entries.iter().enumerate() {
                if let Op::Write { muts, .. } = &e.op {
                    if included(i) {
                        touch(&mut model, &mut diff, muts);
                    }
                }
                if i + 1 >= must && diff == 0 {
                    return Ok(i + 1);
                }
            }
        }
        Err(self.describe(entries, must, recovered))
    }

    fn describe(&self, entries: &[Entry], must: usize, recovered: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
        let mut full = BTreeMap::new();
        let mut at_must = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let (Op::Write { muts, .. }, Outcome::Ok) = (&e.op, e.outcome) {
                apply(&mut full, muts);
                if i < must {
                    apply(&mut at_must, muts);
                }
            }
        }
        let short = |v: Option<&Vec<u8>>| {
            v.map(|v| String::from_utf8_lossy(v.get(..v.len().min(12)).unwrap_or(v)).into_owned())
        };
        let show = |m: &BTreeMap<Vec<u8>, Vec<u8>>| -> String {
            let keys: std::collections::BTreeSet<&Vec<u8>> = m.keys().chain(recovered.keys()).collect();
            let mut out = Vec::new();
            for k in keys {
                let (a, b) = (m.get(k), recovered.get(k));
                if a != b && out.len() < 6 {
                    out.push(format!("{}: model {:?} recovered {:?}", String::from_utf8_lossy(k), short(a), short(b)));
                }
            }
            out.join("; ")
        };
        format!(
            "recovered state matches no allowed prefix ({} ops logged, durability point after op {must}, {} keys recovered). \
             vs all acked writes: [{}]; vs acked writes up to the durability point: [{}]",
            entries.len(),
            recovered.len(),
            show(&full),
            show(&at_must)
        )
    }
}

/// Applies one write to a model.
pub fn apply(m: &mut BTreeMap<Vec<u8>, Vec<u8>>, muts: &[Mutation]) {
    for (k, v) in muts {
        match v {
            Some(v) => {
                m.insert(k.clone(), v.clone());
            }
            None => {
                m.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {}
