//! Warm-up: past sessions' one-minute candles replayed through the bars, the indicators
//! and the bar strategies before the feed starts, so nothing starts cold.

use super::*;

impl StrategyStage {
    /// Feeds finished one-minute candles of past sessions (oldest first) through the bars,
    /// the indicators and the bar strategies, so EMAs, ADX and swings are warm at the open
    /// instead of a day or two later. Nothing it produces is a signal. Each candle is four
    /// prints (open, high, low, close) inside its minute; bars of every window form from them
    /// exactly as from ticks. Candles of `today` (LIVE started after the open) also build
    /// ORB's opening range, so a late start trades the day's range instead of skipping it.
    /// Returns the candles used (0 for an untracked instrument).
    pub fn warm_up(
        &mut self,
        token: crate::domain::Token,
        candles: &[crate::domain::Candle],
        today: crate::domain::Date,
    ) -> usize {
        let Some(idx) = self.master.index_of(token) else {
            return 0;
        };
        if !self.tracked[idx] || candles.is_empty() {
            return 0;
        }
        self.warming = true;
        self.warm_today = today;
        let nw = self.windows.len();
        for c in candles {
            for (k, (dt, px)) in [(0, c.open), (15, c.high), (30, c.low), (59, c.close)]
                .into_iter()
                .enumerate()
            {
                let ts = c.start + dt;
                let vol = if k == 0 { c.volume } else { 0 };
                for w in 0..nw {
                    let i = idx * nw + w;
                    if let Some(bar) = self.series[i].close_due(ts) {
                        self.on_bar_closed(idx, w, &bar);
                    }
                    self.series[i].on_print(ts, px, vol, 0);
                }
            }
        }
        let end = candles[candles.len() - 1].start + 60;
        for w in 0..nw {
            if let Some(bar) = self.series[idx * nw + w].close_due(end) {
                self.on_bar_closed(idx, w, &bar);
            }
        }
        self.batch.clear();
        self.warming = false;
        candles.len()
    }
}
