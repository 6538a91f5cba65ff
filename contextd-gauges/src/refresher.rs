//! Polling sources off the export path.
//!
//! OpenTelemetry runs gauge callbacks on the export thread while holding the pipeline lock, so
//! a callback that blocks stalls every metric and one that panics stops them all. Here each
//! source is read on its own thread, on its own schedule, with a time limit; callbacks only
//! copy the latest snapshot, and skip it once it is older than the allowed age.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;

/// One observed value with its labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) labels: Vec<KeyValue>,
    pub(crate) value: f64,
}

pub(crate) type ReadResult = Result<Vec<Point>, String>;
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ReadResult> + Send>>;

/// How a source is read.
pub(crate) enum Reader {
    Sync(Box<dyn Fn() -> ReadResult + Send + Sync>),
    Async(Box<dyn Fn() -> BoxFuture + Send + Sync>),
}

/// Timing rules shared by every source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_age: Duration,
}

/// The latest good reading of one source, and its error counts.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    latest: Mutex<Option<(Instant, Vec<Point>)>>,
    pub(crate) errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) panics: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Snapshot {
    /// The points of the latest reading if it is younger than `max_age`.
    pub(crate) fn fresh(&self, max_age: Duration) -> Option<Vec<Point>> {
        let latest = self.latest.lock().ok()?;
        let (at, points) = latest.as_ref()?;
        (at.elapsed() <= max_age).then(|| points.clone())
    }

    fn store(&self, points: Vec<Point>) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some((Instant::now(), points));
        }
    }

    fn fail(&self, gauge: &str, counter: &AtomicU64, message: &str) {
        counter.fetch_add(1, Ordering::Relaxed);
        // The gauge loses its point: a value we could not refresh is not reported as fresh.
        if let Ok(mut latest) = self.latest.lock() {
            *latest = None;
        }
        let Ok(mut last) = self.last_logged.lock() else { return };
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!(gauge, "gauge source of {gauge} failed: {message}");
            *last = Some(Instant::now());
        }
    }
}

/// Stops the source threads when dropped (or on [`stop`](Self::stop)).
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
    flag: AtomicBool,
}

impl StopSignal {
    pub(crate) fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(mut stopped) = self.stopped.lock() {
            *stopped = true;
        }
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps `duration` unless stopped first; true when stopped.
    fn sleep(&self, duration: Duration) -> bool {
        let Ok(stopped) = self.stopped.lock() else { return true };
        let result = self.wake.wait_timeout_while(stopped, duration, |stopped| !*stopped);
        result.map_or(true, |(stopped, _)| *stopped)
    }
}

/// Starts the thread that keeps `snapshot` fresh from `reader`.
pub(crate) fn spawn(
    gauge: &'static str,
    reader: Reader,
    snapshot: Arc<Snapshot>,
    schedule: Schedule,
    stop: Arc<StopSignal>,
) -> std::io::Result<()> {
    let name = format!("contextd-gauge-{}", gauge.trim_start_matches("contextd_"));
    std::thread::Builder::new().name(name).spawn(move || {
        while !stop.is_stopped() {
            let started = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| read(&reader, schedule.timeout)));
            match outcome {
                Ok(Ok(points)) if started.elapsed() <= schedule.timeout => snapshot.store(points),
                Ok(Ok(_)) | Ok(Err(ReadError::Timeout)) => snapshot.fail(
                    gauge,
                    &snapshot.timeouts,
                    &format!("no answer within {:?}", schedule.timeout),
                ),
                Ok(Err(ReadError::Failed(message))) => snapshot.fail(gauge, &snapshot.errors, &message),
                Err(_) => snapshot.fail(gauge, &snapshot.panics, "the source panicked"),
            }
            if stop.sleep(schedule.interval.saturating_sub(started.elapsed())) {
                break;
            }
        }
    })?;
    Ok(())
}

enum ReadError {
    Timeout,
    Failed(String),
}

fn read(reader: &Reader, timeout: Duration) -> Result<Vec<Point>, ReadError> {
    match reader {
        // A sync source cannot be interrupted; a late answer is discarded by the caller.
        Reader::Sync(read) => read().map_err(ReadError::Failed),
        Reader::Async(read) => block_on_until(read(), Instant::now() + timeout),
    }
}

/// Wakes the polling thread.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready or `deadline` passes (then it is dropped).
fn block_on_until(mut future: BoxFuture, deadline: Instant) -> Result<Vec<Point>, ReadError> {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(result) = future.as_mut().poll(&mut cx) {
            return result.map_err(ReadError::Failed);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::Timeout);
        }
        std::thread::park_timeout(deadline - now);
    }
}
