//! One-minute bars on exchange time, built from ticks.

/// A finished or forming bar; prices in native units, `minute` = epoch seconds / 60.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bar {
    pub minute: u32,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
}

/// Builds bars for one instrument. Volume comes from the day's cumulative volume field.
#[derive(Clone, Copy, Debug, Default)]
pub struct BarBuilder {
    current: Option<Bar>,
    last_cum_volume: u32,
}

impl BarBuilder {
    /// Adds a trade print; returns the bar it completed, if the minute rolled over.
    pub fn on_price(&mut self, ts: u32, price: i64, cum_volume: u32) -> Option<Bar> {
        let minute = ts / 60;
        let vol = cum_volume.saturating_sub(self.last_cum_volume) as u64;
        if cum_volume > 0 {
            self.last_cum_volume = cum_volume;
        }
        match &mut self.current {
            Some(b) if b.minute == minute => {
                b.high = b.high.max(price);
                b.low = b.low.min(price);
                b.close = price;
                b.volume += vol;
                None
            }
            Some(b) if minute < b.minute => None, // late print from an earlier minute: ignore
            slot => {
                let done = *slot;
                *slot = Some(Bar {
                    minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: vol,
                });
                done
            }
        }
    }
    pub fn current(&self) -> Option<Bar> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_roll_on_the_minute() {
        let mut b = BarBuilder::default();
        assert_eq!(b.on_price(600, 100, 10), None);
        assert_eq!(b.on_price(630, 105, 15), None);
        assert_eq!(b.on_price(659, 95, 20), None);
        let done = b.on_price(660, 101, 30).unwrap();
        assert_eq!(
            (
                done.minute,
                done.open,
                done.high,
                done.low,
                done.close,
                done.volume
            ),
            (10, 100, 105, 95, 95, 20)
        );
        assert_eq!(b.on_price(650, 1, 30), None);
    }
}
