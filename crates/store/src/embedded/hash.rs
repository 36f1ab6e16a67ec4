//! A hash's fields and values, packed the way Redis packs a small hash (a listpack).
//!
//! The substrate is one hash per contract of about twenty short fields, for every
//! contract of every live epoch: some 54,000 hashes for SPX and NDX. A map of owned
//! strings costs about 2.5 KB per contract in B-tree nodes and forty small
//! allocations (measured with heaptrack: 108 MB for the two boards); here a hash is
//! two allocations, the field table and the values in one string, about 700 bytes.
//! Field names are the writer's `&'static str`s, so they are never copied.
//!
//! Writes rebuild the two allocations: a contract's hash changes at most a few times
//! a second, by a handful of fields, and is read whole (`HGETALL`).

/// A hash, ordered by field.
#[derive(Debug, Default)]
pub(super) struct SmallHash {
    /// Each field, with where its value ends in `values` (it starts where the
    /// previous one ends).
    fields: Box<[(&'static str, u32)]>,
    /// Every value, concatenated in field order.
    values: Box<str>,
}

impl SmallHash {
    /// Fields and values, ordered by field.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let mut start = 0;
        self.fields.iter().map(move |&(field, end)| {
            let value = self.values.get(start..end as usize).unwrap_or_default();
            start = end as usize;
            (field, value)
        })
    }

    /// Whether it has no field (Redis removes such a hash).
    pub(super) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `HSET`: sets each field; a field given twice takes the later value.
    pub(super) fn set(&mut self, updates: &[(&'static str, String)]) {
        let mut merged: Vec<(&'static str, &str)> = self.iter().collect();
        for (field, value) in updates {
            match merged.binary_search_by(|(f, _)| f.cmp(field)) {
                Ok(i) => merged[i].1 = value,
                Err(i) => merged.insert(i, (field, value)),
            }
        }
        *self = SmallHash::packed(&merged);
    }

    /// `HDEL`: removes each field present.
    pub(super) fn remove(&mut self, fields: &[&'static str]) {
        let kept: Vec<(&'static str, &str)> =
            self.iter().filter(|(f, _)| !fields.contains(f)).collect();
        if kept.len() != self.fields.len() {
            *self = SmallHash::packed(&kept);
        }
    }

    /// `pairs` (ordered, unique fields) packed.
    fn packed(pairs: &[(&'static str, &str)]) -> SmallHash {
        let mut values = String::with_capacity(pairs.iter().map(|(_, v)| v.len()).sum());
        let fields = pairs
            .iter()
            .map(|&(field, value)| {
                values.push_str(value);
                // A hash's values are a contract's numbers and names: far below 4 GB.
                (field, u32::try_from(values.len()).unwrap_or(u32::MAX))
            })
            .collect();
        SmallHash {
            fields,
            values: values.into_boxed_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const NAMES: [&str; 6] = ["ask", "bid", "id", "mid", "ts", "volume"];

    proptest! {
        /// Any sequence of sets and removes leaves what a map of strings would hold.
        #[test]
        fn behaves_as_an_ordered_map(
            ops in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec((0..NAMES.len(), "\\PC{0,12}"), 0..8)),
                0..40,
            )
        ) {
            let mut hash = SmallHash::default();
            let mut model = BTreeMap::new();
            for (is_set, items) in ops {
                if is_set {
                    let updates: Vec<(&'static str, String)> =
                        items.iter().map(|(i, v)| (NAMES[*i], v.clone())).collect();
                    hash.set(&updates);
                    for (f, v) in updates {
                        model.insert(f, v);
                    }
                } else {
                    let fields: Vec<&'static str> = items.iter().map(|(i, _)| NAMES[*i]).collect();
                    hash.remove(&fields);
                    for f in fields {
                        model.remove(f);
                    }
                }
                let got: Vec<(&str, &str)> = hash.iter().collect();
                let want: Vec<(&str, &str)> = model.iter().map(|(f, v)| (*f, v.as_str())).collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(hash.is_empty(), model.is_empty());
            }
        }
    }
}
