//! Where finished lines go: one shared batch buffer that requests write their lines straight
//! into, drained by one writer thread, so a slow or full stdout (or disk) never blocks or
//! fails a request — a line that does not fit (more than [`QUEUE`] lines waiting) is dropped
//! and counted instead. A request pays one uncontended lock and the bytes of its line: no
//! allocation, no channel message, no wake-up except for the first line of a batch. Owns the
//! thread, the buffer and the writer; must not format records or look at their contents.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// Lines waiting for the writer; beyond this, lines are dropped (and counted).
pub const QUEUE: usize = 8192;

/// The sending end; cheap to clone. The writer thread ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct LineSink {
    shared: Arc<Shared>,
    _open: Arc<Open>,
    dropped: Counter,
}

#[derive(Debug, Default)]
struct Shared {
    batch: Mutex<Batch>,
    wake: Condvar,
}

/// Lines written since the writer last took them.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: usize,
    /// Answered once every line before them is written and flushed.
    flushes: Vec<mpsc::Sender<()>>,
    closed: bool,
}

/// Dropped with the last [`LineSink`]: tells the writer to write what is left and stop.
#[derive(Debug)]
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
        self.0.wake.notify_one();
    }
}

/// A poisoned lock only means a writer panicked mid-line; the bytes are still usable.
fn lock(shared: &Shared) -> MutexGuard<'_, Batch> {
    shared
        .batch
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LineSink {
    /// Starts a thread writing every line to `out`, whole lines at most [`ATOMIC_WRITE`]
    /// bytes per `write_all`, flushing after each batch. `dropped` counts lines lost to a full queue or a failed write.
    pub fn spawn(
        name: &str,
        out: impl Write + Send + 'static,
        dropped: Counter,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let writer = (shared.clone(), dropped.clone());
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || drain(&writer.0, out, &writer.1))?;
        Ok(Self {
            _open: Arc::new(Open(shared.clone())),
            shared,
            dropped,
        })
    }

    /// Queues `line` (one line, newline included) without waiting.
    pub fn send(&self, line: &[u8]) {
        self.write_line(|bytes| bytes.extend_from_slice(line));
    }

    /// Queues the line `write` appends to the buffer (newline included) without waiting,
    /// or drops and counts it when [`QUEUE`] lines are already waiting. `write` runs under
    /// the buffer's lock: it must only format.
    pub fn write_line(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut batch = lock(&self.shared);
        if batch.lines >= QUEUE {
            drop(batch);
            self.dropped.inc();
            return;
        }
        write(&mut batch.bytes);
        batch.lines += 1;
        let first = batch.lines == 1;
        drop(batch);
        if first {
            self.shared.wake.notify_one();
        }
    }

    /// Waits (up to `timeout`) until every line sent so far is written: for shutdown, so
    /// the last requests' lines are not lost with the process. A stuck writer cannot hold
    /// it longer than `timeout`.
    pub fn flush(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (done, wait) = mpsc::channel();
        lock(&self.shared).flushes.push(done);
        self.shared.wake.notify_one();
        let _ = wait.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// How long the writer lets lines gather after the first one before writing them out: one
/// wake-up and one write per batch instead of per request, and a sender finds the writer
/// asleep rather than waiting on the lock, so its line wakes nobody.
const LINGER: Duration = Duration::from_millis(20);

/// The most bytes of whole lines written with one `write`: POSIX writes of up to `PIPE_BUF`
/// (4096 on Linux) bytes to a pipe are never interleaved with another writer's, so the access
/// log and the audit log may share stdout and every line still arrives whole — while a batch
/// costs a few system calls instead of one per line.
const ATOMIC_WRITE: usize = 4096;

/// Writes `lines` (whole lines) in chunks of whole lines of at most [`ATOMIC_WRITE`] bytes (a
/// longer line alone); a failed chunk counts its lines as dropped.
fn write_lines(out: &mut impl Write, lines: &[u8], dropped: &Counter) {
    let mut chunk_start = 0;
    let mut chunk_end = 0;
    let mut write = |chunk: &[u8]| {
        if !chunk.is_empty() && out.write_all(chunk).is_err() {
            let lost = memchr::memchr_iter(b'\n', chunk).count();
            dropped.inc_by(lost.max(1) as u64);
        }
    };
    for line in lines.split_inclusive(|&b| b == b'\n') {
        if chunk_end > chunk_start && chunk_end - chunk_start + line.len() > ATOMIC_WRITE {
            write(&lines[chunk_start..chunk_end]);
            chunk_start = chunk_end;
        }
        chunk_end += line.len();
    }
    write(&lines[chunk_start..chunk_end]);
}

/// A batch buffer grown larger by a burst is given back rather than kept.
const SHRINK_ABOVE: usize = 1024 * 1024;

fn drain(shared: &Shared, mut out: impl Write, dropped: &Counter) {
    let mut taken = Vec::new();
    loop {
        let mut batch = lock(shared);
        while batch.lines == 0 && batch.flushes.is_empty() && !batch.closed {
            batch = shared
                .wake
                .wait(batch)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if batch.flushes.is_empty() && !batch.closed {
            drop(batch);
            std::thread::sleep(LINGER);
            batch = lock(shared);
        }
        std::mem::swap(&mut taken, &mut batch.bytes);
        batch.lines = 0;
        let waiting = std::mem::take(&mut batch.flushes);
        let closed = batch.closed;
        drop(batch);
        write_lines(&mut out, &taken, dropped);
        taken.clear();
        if taken.capacity() > SHRINK_ABOVE {
            taken = Vec::new();
        }
        if out.flush().is_err() {
            dropped.inc();
        }
        for done in waiting {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A writer stuck like a full pipe nobody reads.
    struct Stuck(Arc<Mutex<()>>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            drop(self.0.lock().unwrap());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order() {
        let out = Shared::default();
        let sink = LineSink::spawn("test", out.clone(), Counter::default()).unwrap();
        sink.send(b"a\n");
        sink.send(b"b\n");
        sink.flush(Duration::from_secs(5));
        assert_eq!(&*out.0.lock().unwrap(), b"a\nb\n");
    }

    #[test]
    fn lines_are_written_without_a_flush_soon_after_they_are_sent() {
        let out = Shared::default();
        let sink = LineSink::spawn("test", out.clone(), Counter::default()).unwrap();
        sink.write_line(|bytes| bytes.extend_from_slice(b"first\n"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*out.0.lock().unwrap(), b"first\n");
    }

    #[test]
    fn the_last_lines_are_written_when_the_last_sender_goes() {
        let out = Shared::default();
        let sink = LineSink::spawn("test", out.clone(), Counter::default()).unwrap();
        let clone = sink.clone();
        sink.send(b"a\n");
        drop(sink);
        clone.send(b"b\n");
        drop(clone);
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().len() < 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*out.0.lock().unwrap(), b"a\nb\n");
    }

    #[test]
    fn a_stuck_writer_drops_and_counts_instead_of_blocking() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let dropped = Counter::default();
        let sink = LineSink::spawn("test", Stuck(gate.clone()), dropped.clone()).unwrap();
        let started = Instant::now();
        // The blocked writer holds at most one batch (k <= QUEUE lines) and QUEUE more wait:
        // of 2 * QUEUE + 100 lines, QUEUE + 100 - k are dropped, whenever it took its batch.
        for _ in 0..2 * QUEUE + 100 {
            sink.send(b"x\n");
        }
        assert!(started.elapsed() < Duration::from_secs(2), "send blocked");
        let lost = dropped.get();
        assert!((100..=QUEUE as u64 + 100).contains(&lost), "{lost}");
        drop(held);
    }

    /// Records each `write` call.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_goes_out_in_few_writes_of_whole_lines_each_at_most_atomic_size() {
        let mut lines = Vec::new();
        for n in 0u8..100 {
            lines.extend(std::iter::repeat_n(b'a' + n % 26, 100 + usize::from(n) * 7));
            lines.push(b'\n');
        }
        let long = vec![b'z'; ATOMIC_WRITE + 10];
        lines.extend_from_slice(&long);
        lines.push(b'\n');
        let mut calls = Calls::default();
        write_lines(&mut calls, &lines, &Counter::default());
        assert_eq!(calls.0.concat(), lines, "every byte, in order");
        assert!(calls.0.len() < 20, "{} writes for 101 lines", calls.0.len());
        for call in &calls.0 {
            assert_eq!(call.last(), Some(&b'\n'), "a write ends a line");
            let lines_in_it = memchr::memchr_iter(b'\n', call).count();
            assert!(
                call.len() <= ATOMIC_WRITE || lines_in_it == 1,
                "{}",
                call.len()
            );
        }
    }
}
