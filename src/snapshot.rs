//! What a collector produces in one tick: metric families with their samples, plus the
//! partial failures it skipped over. Exporters read published snapshots and nothing else.

use std::sync::Arc;

use crate::catalog::MetricDesc;
/// What [`Snapshot::skip`] counts a skipped part as.
pub use crate::error_kind::ErrorKind;
use crate::host::bytes::truncate;

/// One label: attribute name and value.
pub type Label = (&'static str, String);

/// Labels that many series carry (a cgroup's names), made once with [`label_set`] and shared
/// by reference: 1,000 cgroups of 46 series each hold 1,000 copies of their names, not 46,000.
/// The boxed slice behind the `Arc` keeps the reference one word: a [`Sample`] is 24 bytes,
/// not the 40 of two slice references and a value (46,000 series, two snapshots alive
/// during a collection: 1.5 MB).
pub type LabelSet = Arc<Box<[Label]>>;

/// A label set from names and values; values are cut as [`Snapshot::add`] cuts them.
pub fn label_set(labels: &[(&'static str, &str)]) -> LabelSet {
    Arc::new(
        labels
            .iter()
            .map(|(k, v)| (*k, truncate(v).into_owned()))
            .collect(),
    )
}

/// A series' labels: a shared set, then the series' own, in the order of the descriptor's
/// attributes. Read as one list (`iter`, `len`, indexing); where the labels come from does
/// not show in any encoding.
#[derive(Clone, Default)]
pub struct Labels {
    shared: Option<LabelSet>,
    own: Option<LabelSet>,
}

type Iter<'a> = std::iter::Chain<std::slice::Iter<'a, Label>, std::slice::Iter<'a, Label>>;

impl Labels {
    pub fn new(shared: Option<LabelSet>, own: Option<LabelSet>) -> Self {
        let non_empty = |s: Option<LabelSet>| s.filter(|s| !s.is_empty());
        Self {
            shared: non_empty(shared),
            own: non_empty(own),
        }
    }

    fn parts(&self) -> (&[Label], &[Label]) {
        (part(&self.shared), part(&self.own))
    }

    pub fn iter(&self) -> Iter<'_> {
        let (shared, own) = self.parts();
        shared.iter().chain(own)
    }

    pub fn len(&self) -> usize {
        let (shared, own) = self.parts();
        shared.len() + own.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, label: &Label) -> bool {
        self.iter().any(|l| l == label)
    }
}

fn part(set: &Option<LabelSet>) -> &[Label] {
    set.as_deref().map_or(&[], |b| &b[..])
}

impl std::ops::Index<usize> for Labels {
    type Output = Label;
    fn index(&self, i: usize) -> &Label {
        let (shared, own) = self.parts();
        shared.get(i).unwrap_or_else(|| &own[i - shared.len()])
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One series: its labels and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub struct Family {
    pub desc: &'static MetricDesc,
    pub samples: Vec<Sample>,
}

/// Something a collector skipped without failing the whole tick (an unreadable optional
/// file, a malformed line). Counted by kind in `vitals_collector_errors_total`.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub kind: ErrorKind,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub families: Vec<Family>,
    pub skipped: Vec<Skipped>,
    /// Series left out to stay within a configured cap (not an error: counted in
    /// `vitals_collector_series_dropped_total`).
    pub dropped: u64,
    /// When the collection ended, in nanoseconds since the epoch (OTLP's `time_unix_nano`).
    pub time_unix_nano: u64,
}

/// The wall clock in nanoseconds since the epoch.
pub fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Snapshot {
    /// Adds one sample; `labels` pairs attribute names with values. A value longer than
    /// [`crate::host::bytes::MAX_LABEL_BYTES`] (only ever host text) is cut with a marker ([`truncate`]), here,
    /// once per collection, so the encoders never see one and scrapes cost the same.
    pub fn add(&mut self, desc: &'static MetricDesc, labels: &[(&'static str, &str)], value: f64) {
        debug_assert!(
            labels.iter().all(|(k, _)| desc.attributes.contains(k)),
            "{}: label not declared in the catalog",
            desc.name
        );
        let own = (!labels.is_empty()).then(|| label_set(labels));
        self.push(desc, Labels::new(None, own), value);
    }

    /// Adds one sample whose labels are `shared` then `own`, both shared by reference (no
    /// copy of a label per series); the descriptor's attributes must list them in that order.
    pub fn add_shared(
        &mut self,
        desc: &'static MetricDesc,
        shared: &LabelSet,
        own: Option<&LabelSet>,
        value: f64,
    ) {
        let labels = Labels::new(Some(shared.clone()), own.cloned());
        debug_assert!(
            labels.iter().all(|(k, _)| desc.attributes.contains(k)),
            "{}: label not declared in the catalog",
            desc.name
        );
        self.push(desc, labels, value);
    }

    fn push(&mut self, desc: &'static MetricDesc, labels: Labels, value: f64) {
        let sample = Sample { labels, value };
        match self
            .families
            .iter_mut()
            .rev()
            .find(|f| std::ptr::eq(f.desc, desc))
        {
            Some(family) => family.samples.push(sample),
            None => self.families.push(Family {
                desc,
                samples: vec![sample],
            }),
        }
    }

    pub fn skip(&mut self, kind: ErrorKind, detail: impl Into<String>) {
        self.skipped.push(Skipped {
            kind,
            detail: detail.into(),
        });
    }

    /// Records `n` series left out by a configured cap.
    pub fn drop_series(&mut self, n: u64) {
        self.dropped += n;
    }

    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.desc.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_three_words() {
        assert_eq!(std::mem::size_of::<Sample>(), 24);
    }
    use crate::catalog::Instrument;
    use crate::host::bytes::MAX_LABEL_BYTES;

    static A: MetricDesc = MetricDesc {
        name: "a",
        unit: "1",
        instrument: Instrument::Gauge,
        help: "a",
        attributes: &["k"],
        source: "",
        extension: true,
    };
    static B: MetricDesc = MetricDesc {
        name: "b",
        attributes: &[],
        ..A
    };

    #[test]
    fn samples_group_by_descriptor() {
        let mut s = Snapshot::default();
        s.add(&A, &[("k", "1")], 1.0);
        s.add(&B, &[], 2.0);
        s.add(&A, &[("k", "2")], 3.0);
        assert_eq!(s.families.len(), 2);
        assert_eq!(s.family("a").map(|f| f.samples.len()), Some(2));
        assert_eq!(s.series_count(), 3);
    }

    #[test]
    fn long_label_values_are_cut() {
        let mut s = Snapshot::default();
        s.add(&A, &[("k", &"l".repeat(1 << 20))], 1.0);
        s.add(&A, &[("k", "short")], 2.0);
        let samples = &s.family("a").unwrap().samples;
        assert!(samples[0].labels[0].1.len() <= MAX_LABEL_BYTES);
        assert!(samples[0].labels[0].1.contains("…[1048576 bytes, "));
        assert_eq!(samples[1].labels[0].1, "short");
    }
}
