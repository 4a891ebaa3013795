//! Scope labels as a metric attribute, when the user opts in: the first `max` distinct labels
//! are recorded as they are, later ones only as an overflow mark, so that a service with a
//! million tenants cannot make a million time series (OpenTelemetry 0.26 folds an
//! instrument's series beyond 2,000 into one overflow series for good).

use std::collections::HashSet;
use std::sync::Mutex;

/// The most distinct labels a user may ask for: with the other attributes of
/// `aws.credentials.refreshes` (outcome, trigger, source) this stays well under
/// OpenTelemetry's 2,000 series per instrument.
pub(crate) const MAX_SCOPE_LABELS: usize = 100;

/// The labels recorded so far, at most `max`.
#[derive(Debug)]
pub(crate) struct ScopeLabels {
    max: usize,
    seen: Mutex<HashSet<Box<str>>>,
}

impl ScopeLabels {
    pub(crate) fn new(max: usize) -> Self {
        ScopeLabels {
            max,
            seen: Mutex::default(),
        }
    }

    /// Whether `label` is recorded as itself: seen before, or new while the cap allows.
    /// Otherwise the caller marks the overflow instead (an attribute of its own, so no
    /// tenant's label can be taken for it).
    pub(crate) fn admits(&self, label: &str) -> bool {
        let mut seen = crate::mutex::lock(&self.seen);
        if seen.contains(label) {
            return true;
        }
        if seen.len() < self.max {
            seen.insert(label.into());
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_beyond_the_cap_are_not_admitted_and_those_seen_stay() {
        let labels = ScopeLabels::new(2);
        assert!(labels.admits("acme"));
        assert!(labels.admits("globex"));
        assert!(!labels.admits("initech"));
        assert!(labels.admits("acme"));
        assert_eq!(crate::mutex::lock(&labels.seen).len(), 2);
    }
}
