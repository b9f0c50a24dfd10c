//! Durations and amounts as Kubernetes and Argo read them.

use super::*;

/// Seconds, rounded up.
pub(super) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// A duration as Go's `time.ParseDuration` reads it: `30s`, or `1500ms`.
pub(super) fn go_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// CPUs as a Kubernetes quantity: `2`, `1.5`, `0.25`.
pub(super) fn cpu_quantity(cpus: f64) -> String {
    if cpus.fract() == 0.0 {
        format!("{cpus:.0}")
    } else {
        // Kubernetes keeps millicores: round to them.
        let millis = (cpus * 1000.0).round() / 1000.0;
        format!("{millis}")
    }
}

/// Bytes as a Kubernetes quantity: `512Mi` when a whole number of a binary unit, else bytes.
pub(super) fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}
