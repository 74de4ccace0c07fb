//! Where finished lines go: a bounded queue drained by one writer thread, so a slow or
//! full stdout (or disk) never blocks or fails a request — a line that does not fit in the
//! queue is dropped and counted instead. Owns the thread and the writer; must not format
//! records or look at their contents.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// Lines waiting for the writer; beyond this, lines are dropped (and counted).
pub const QUEUE: usize = 8192;

/// The sending end; cheap to clone.
#[derive(Clone, Debug)]
pub struct LineSink {
    tx: SyncSender<Message>,
    dropped: Counter,
}

#[derive(Debug)]
enum Message {
    Line(Vec<u8>),
    /// Answered once every line queued before it is written and flushed.
    Flush(mpsc::Sender<()>),
}

impl LineSink {
    /// Starts a thread writing every line to `out`, flushing whenever the queue is empty.
    /// `dropped` counts lines lost to a full queue or a failed write.
    pub fn spawn(
        name: &str,
        out: impl Write + Send + 'static,
        dropped: Counter,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let counter = dropped.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || drain(&rx, out, &counter))?;
        Ok(Self { tx, dropped })
    }

    /// Queues `line` without waiting.
    pub fn send(&self, line: Vec<u8>) {
        match self.tx.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Waits (up to `timeout`) until every line sent so far is written: for shutdown, so
    /// the last requests' lines are not lost with the process. A stuck writer cannot hold
    /// it longer than `timeout`.
    pub fn flush(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (done, wait) = mpsc::channel();
        let mut message = Message::Flush(done);
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = wait.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// How long the writer lets lines gather after the first one before writing them out: one
/// wake-up and one write per batch instead of per request, and a sender finds the writer
/// asleep rather than waiting on the channel, so its send wakes nobody.
const LINGER: Duration = Duration::from_millis(20);

fn drain(rx: &Receiver<Message>, mut out: impl Write, dropped: &Counter) {
    let mut waiting = Vec::new();
    while let Ok(message) = rx.recv() {
        take(message, &mut out, dropped, &mut waiting);
        if waiting.is_empty() {
            std::thread::sleep(LINGER);
        }
        while let Ok(message) = rx.try_recv() {
            take(message, &mut out, dropped, &mut waiting);
        }
        if out.flush().is_err() {
            dropped.inc();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

fn take(
    message: Message,
    out: &mut impl Write,
    dropped: &Counter,
    waiting: &mut Vec<mpsc::Sender<()>>,
) {
    match message {
        Message::Line(line) => {
            if out.write_all(&line).is_err() {
                dropped.inc();
            }
        }
        Message::Flush(done) => waiting.push(done),
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
        sink.send(b"a\n".to_vec());
        sink.send(b"b\n".to_vec());
        sink.flush(Duration::from_secs(5));
        assert_eq!(&*out.0.lock().unwrap(), b"a\nb\n");
    }

    #[test]
    fn a_stuck_writer_drops_and_counts_instead_of_blocking() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let dropped = Counter::default();
        let sink = LineSink::spawn("test", Stuck(gate.clone()), dropped.clone()).unwrap();
        let started = Instant::now();
        // One line is taken by the blocked writer, QUEUE more fill the queue, the rest drop.
        for _ in 0..QUEUE + 100 {
            sink.send(b"x\n".to_vec());
        }
        assert!(started.elapsed() < Duration::from_secs(2), "send blocked");
        assert!((99..=100).contains(&dropped.get()), "{}", dropped.get());
        drop(held);
    }
}
