//! Process and tokio runtime metrics, observed at export time.
//!
//! Process metrics (Linux, from `/proc/self`), with semantic-convention names:
//! `process.memory.usage` and `process.memory.virtual` (bytes), `process.cpu.time` (seconds,
//! `cpu.mode` = user | system), `process.cpu.utilization` (share of the CPUs available to the
//! process since the previous collection, by `cpu.mode`), `process.thread.count` and
//! `process.unix.file_descriptor.count`. `/proc` is read once per collection, not per
//! instrument: the first callback of a collection refreshes a shared sample.
//!
//! Tokio (when a runtime handle is known: the one `init` was called in, or
//! [`TelemetryConfig::with_tokio_runtime`](crate::TelemetryConfig::with_tokio_runtime)):
//! `tokio.runtime.workers`, `tokio.runtime.alive_tasks`, `tokio.runtime.global_queue.depth`
//! (stable tokio API), `tokio.runtime.worker.busy_time` and `tokio.runtime.worker.park_count`
//! (summed over workers; stable on targets with 64-bit atomics), and with `--cfg tokio_unstable`
//! also `tokio.runtime.blocking_threads` and `tokio.runtime.spawned_tasks`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use opentelemetry_semantic_conventions::metric;

/// One reading of `/proc/self`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcSample {
    pub(crate) rss_bytes: i64,
    pub(crate) virtual_bytes: i64,
    pub(crate) threads: i64,
    pub(crate) user_seconds: f64,
    pub(crate) system_seconds: f64,
    pub(crate) open_fds: i64,
}

/// Clock ticks per second of `/proc/<pid>/stat` times: Linux exports USER_HZ = 100 to user
/// space on every architecture, whatever the kernel's internal HZ.
const USER_HZ: f64 = 100.0;

/// Reads `/proc/self/status`, `/proc/self/stat` and `/proc/self/fd`.
pub(crate) fn read_proc() -> Option<ProcSample> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| -> Option<i64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<i64>().ok().map(|k| k * 1024)
    };
    let threads =
        status.lines().find(|l| l.starts_with("Threads:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "(comm)".
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as i64).unwrap_or(0);
    Some(ProcSample {
        rss_bytes: kib("VmRSS:")?,
        virtual_bytes: kib("VmSize:")?,
        threads,
        user_seconds: ticks(11)? / USER_HZ,
        system_seconds: ticks(12)? / USER_HZ,
        open_fds,
    })
}

/// The latest sample, shared by the callbacks of one collection, and the previous one for the
/// utilisation.
#[derive(Debug, Default)]
struct Sampler {
    state: Mutex<SamplerState>,
}

#[derive(Debug, Default)]
struct SamplerState {
    latest: Option<(Instant, ProcSample)>,
    utilization: (f64, f64),
}

/// Samples taken closer together than this belong to the same collection.
const SAME_COLLECTION: Duration = Duration::from_millis(500);

impl Sampler {
    fn sample(&self) -> Option<(ProcSample, (f64, f64))> {
        let mut state = self.state.lock().ok()?;
        if let Some((at, sample)) = state.latest
            && at.elapsed() < SAME_COLLECTION
        {
            return Some((sample, state.utilization));
        }
        let now = Instant::now();
        let fresh = read_proc()?;
        if let Some((at, previous)) = state.latest {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let wall = now.duration_since(at).as_secs_f64() * cpus;
            if wall > 0.0 {
                state.utilization = (
                    ((fresh.user_seconds - previous.user_seconds) / wall).max(0.0),
                    ((fresh.system_seconds - previous.system_seconds) / wall).max(0.0),
                );
            }
        }
        state.latest = Some((now, fresh));
        Some((fresh, state.utilization))
    }
}

/// Runs a callback body, turning a panic into "no observation this time".
fn guarded(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Registers the process instruments on `meter`.
pub(crate) fn register_process(meter: &Meter) {
    if read_proc().is_none() {
        // Not Linux, or /proc unavailable: nothing to observe.
        return;
    }
    let sampler = Arc::new(Sampler::default());
    let updown =
        |name: &'static str, unit: &'static str, description: &'static str, get: fn(&ProcSample) -> i64| {
            let sampler = sampler.clone();
            meter
                .i64_observable_up_down_counter(name)
                .with_unit(unit)
                .with_description(description)
                .with_callback(move |observer| {
                    guarded(|| {
                        if let Some((sample, _)) = sampler.sample() {
                            observer.observe(get(&sample), &[]);
                        }
                    });
                })
                .build();
        };
    updown(metric::PROCESS_MEMORY_USAGE, "By", "Resident set size", |s| s.rss_bytes);
    updown(metric::PROCESS_MEMORY_VIRTUAL, "By", "Virtual memory size", |s| s.virtual_bytes);
    updown(metric::PROCESS_THREAD_COUNT, "{thread}", "Process threads", |s| s.threads);
    updown(metric::PROCESS_UNIX_FILE_DESCRIPTOR_COUNT, "{file_descriptor}", "Open file descriptors", |s| {
        s.open_fds
    });

    let modes = [KeyValue::new("cpu.mode", "user"), KeyValue::new("cpu.mode", "system")];
    let cpu_sampler = sampler.clone();
    let cpu_modes = modes.clone();
    meter
        .f64_observable_counter(metric::PROCESS_CPU_TIME)
        .with_unit("s")
        .with_description("CPU time used by the process")
        .with_callback(move |observer| {
            guarded(|| {
                if let Some((sample, _)) = cpu_sampler.sample() {
                    observer.observe(sample.user_seconds, &cpu_modes[..1]);
                    observer.observe(sample.system_seconds, &cpu_modes[1..]);
                }
            });
        })
        .build();
    meter
        .f64_observable_gauge(metric::PROCESS_CPU_UTILIZATION)
        .with_unit("1")
        .with_description("Share of the available CPUs used since the previous collection")
        .with_callback(move |observer| {
            guarded(|| {
                if let Some((_, (user, system))) = sampler.sample() {
                    observer.observe(user, &modes[..1]);
                    observer.observe(system, &modes[1..]);
                }
            });
        })
        .build();
}

/// Registers the tokio runtime instruments for `handle` on `meter`.
pub(crate) fn register_tokio(meter: &Meter, handle: tokio::runtime::Handle) {
    let gauge = |name: &'static str,
                 unit: &'static str,
                 description: &'static str,
                 read: fn(&tokio::runtime::RuntimeMetrics) -> i64| {
        let handle = handle.clone();
        meter
            .i64_observable_gauge(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(move |observer| guarded(|| observer.observe(read(&handle.metrics()), &[])))
            .build();
    };
    gauge("tokio.runtime.workers", "{worker}", "Worker threads of the runtime", |m| m.num_workers() as i64);
    gauge("tokio.runtime.alive_tasks", "{task}", "Tasks alive in the runtime", |m| {
        m.num_alive_tasks() as i64
    });
    gauge("tokio.runtime.global_queue.depth", "{task}", "Tasks in the global queue", |m| {
        m.global_queue_depth() as i64
    });
    #[cfg(tokio_unstable)]
    gauge("tokio.runtime.blocking_threads", "{thread}", "Blocking-pool threads", |m| {
        m.num_blocking_threads() as i64
    });

    #[cfg(target_has_atomic = "64")]
    {
        let busy = handle.clone();
        meter
            .f64_observable_counter("tokio.runtime.worker.busy_time")
            .with_unit("s")
            .with_description("Time the workers spent busy, summed over workers")
            .with_callback(move |observer| {
                guarded(|| {
                    let m = busy.metrics();
                    let total: Duration = (0..m.num_workers()).map(|w| m.worker_total_busy_duration(w)).sum();
                    observer.observe(total.as_secs_f64(), &[]);
                });
            })
            .build();
        let parks = handle.clone();
        meter
            .u64_observable_counter("tokio.runtime.worker.park_count")
            .with_unit("{park}")
            .with_description("Times the workers parked, summed over workers")
            .with_callback(move |observer| {
                guarded(|| {
                    let m = parks.metrics();
                    observer.observe((0..m.num_workers()).map(|w| m.worker_park_count(w)).sum(), &[]);
                });
            })
            .build();
    }
    #[cfg(tokio_unstable)]
    {
        let spawned = handle.clone();
        meter
            .u64_observable_counter("tokio.runtime.spawned_tasks")
            .with_unit("{task}")
            .with_description("Tasks spawned since the runtime started")
            .with_callback(move |observer| {
                guarded(|| observer.observe(spawned.metrics().spawned_tasks_count(), &[]))
            })
            .build();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_sample_is_plausible() {
        let sample = super::read_proc().expect("Linux /proc");
        assert!(sample.rss_bytes > 0 && sample.virtual_bytes >= sample.rss_bytes);
        assert!(sample.threads >= 1 && sample.open_fds >= 3);
        assert!(sample.user_seconds >= 0.0 && sample.system_seconds >= 0.0);
    }
}
