//! One-call OpenTelemetry setup for contextd services.
