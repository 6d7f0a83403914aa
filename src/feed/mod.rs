//! Market data in: the Kite binary codec, frame sources (synthetic market now; Kite WebSocket
//! and replay later), and the record format. The feed thread owns a source, decodes every frame
//! with the real decoder and sequences ticks onto ring A.

pub mod codec;
pub mod kite_ws;
pub mod record;
pub mod replay;
pub mod synthetic;
pub mod tls_records;

/// What a frame source had on one poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourcePoll {
    /// A frame was written into the buffer.
    Frame,
    /// Nothing yet; the feed thread runs its wait strategy.
    Idle,
    /// The source is finished (end of a replay, or close with exit_at_close).
    End,
}

/// Anything that produces Kite binary frames: the synthetic market, a recording, a socket.
pub trait FrameSource: Send {
    fn poll(&mut self, out: &mut Vec<u8>) -> SourcePoll;
    /// Simulated sources run in lockstep: the feed waits for the pipeline to finish each frame
    /// (and sequences the resulting broker updates) before the next, so a seed replays exactly
    /// the same day in any topology. Real-time sources do not wait.
    fn lockstep(&self) -> bool;
    fn describe(&self) -> String;
    /// A universe reload's new subscriptions (instrument token, mode). Only a live feed
    /// subscribes; simulated and recorded sources carry what they carry.
    fn resubscribe(&mut self, _tokens: Vec<(u32, crate::domain::TickMode)>) {}
    /// When the last frame's bytes came off the socket (`clock::mono_ns`), for sources that
    /// read one; the feed stamps ticks with it so latency counts the WebSocket layer too.
    fn received_ns(&self) -> Option<u64> {
        None
    }
    /// Exchange time now (epoch seconds) for a source that keeps its own clock (the
    /// synthetic market's simulated session). `None`: the sequencer uses the wall clock for
    /// a live feed and the frames' exchange timestamps for a recording.
    fn exchange_now(&self) -> Option<u32> {
        None
    }
    /// The next frame with no pacing (a restart catching up); real-time sources poll.
    fn catch_up(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        self.poll(out)
    }
    /// After a catch-up: real-time pacing starts again from where the source now is.
    fn resume_pacing(&mut self) {}
    /// Nothing has come for a while (the adaptive wait): block until the source may have a
    /// frame, at most `timeout`. A socket source waits in its poll and wakes on data; the
    /// others sleep.
    fn wait_ready(&mut self, timeout: std::time::Duration) {
        std::thread::sleep(timeout);
    }
}
