//! The paper broker: fills orders against the live (or synthetic) book it sees in ticks.
//! MARKET orders fill at the touch moved `slippage_bps` against us, on the tick grid; LIMIT
//! orders fill at once when marketable, else rest until the market trades through them.
//! A price of zero or less is never a fill.

use crate::domain::*;

/// What the paper broker keeps of the last tick per instrument: the touch and the last
/// trade. 16 bytes instead of the whole ~200-byte `Tick` on every tick of the hot path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Touch {
    /// Best bid and ask in feed units; 0 when that side of the book is empty.
    pub bid: i32,
    pub ask: i32,
    pub last_price: i32,
    pub exchange_timestamp: u32,
}

impl Touch {
    pub fn of(t: &Tick) -> Touch {
        Touch {
            bid: t.best_bid().unwrap_or(0),
            ask: t.best_ask().unwrap_or(0),
            last_price: t.last_price,
            exchange_timestamp: t.exchange_timestamp,
        }
    }
    pub fn best_bid(&self) -> Option<i32> {
        (self.bid > 0).then_some(self.bid)
    }
    pub fn best_ask(&self) -> Option<i32> {
        (self.ask > 0).then_some(self.ask)
    }
}

/// The fill model, one trait so other models can plug in by config later.
pub trait FillModel {
    fn market_price(&self, book: &Touch, side: Side, tick_size: i64) -> Option<i64>;
}

/// Touch plus slippage in basis points, rounded away from us to the tick.
#[derive(Clone, Copy, Debug)]
pub struct TouchSlippage {
    pub bps: f64,
}

impl FillModel for TouchSlippage {
    fn market_price(&self, book: &Touch, side: Side, tick: i64) -> Option<i64> {
        let touch = match side {
            Side::Buy => book
                .best_ask()
                .or((book.last_price > 0).then_some(book.last_price)),
            Side::Sell => book
                .best_bid()
                .or((book.last_price > 0).then_some(book.last_price)),
        }? as i64;
        let slip = (touch as f64 * self.bps / 10_000.0).round() as i64;
        let raw = touch + side.sign() * slip;
        let t = tick.max(1);
        let px = match side {
            Side::Buy => (raw + t - 1).div_euclid(t) * t,
            Side::Sell => raw.div_euclid(t) * t,
        };
        (px > 0).then_some(px)
    }
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    intent: OrderIntent,
    idx: usize,
}

pub struct PaperBroker<M: FillModel> {
    model: M,
    books: Vec<Option<Touch>>,
    resting: Vec<Resting>,
}

impl<M: FillModel> PaperBroker<M> {
    pub fn new(model: M, instruments: usize) -> Self {
        PaperBroker {
            model,
            books: vec![None; instruments],
            resting: Vec::with_capacity(256),
        }
    }

    /// Updates the book and fills resting limits the market traded through.
    pub fn on_tick(&mut self, idx: usize, t: &Tick, mut report: impl FnMut(OrderUpdate)) {
        self.books[idx] = Some(Touch::of(t));
        let ltp = t.last_price as i64;
        if self.resting.is_empty() || ltp <= 0 {
            return;
        }
        let mut i = 0;
        while i < self.resting.len() {
            let r = self.resting[i];
            let through = r.idx == idx
                && match r.intent.side {
                    Side::Buy => ltp < r.intent.price.0,
                    Side::Sell => ltp > r.intent.price.0,
                };
            if through {
                self.resting.swap_remove(i);
                report(OrderUpdate {
                    id: r.intent.id,
                    token: r.intent.token,
                    kind: OrderUpdateKind::Fill {
                        cum_qty: r.intent.qty,
                        last_qty: r.intent.qty,
                        last_price: r.intent.price,
                    },
                    ts: t.exchange_timestamp,
                });
            } else {
                i += 1;
            }
        }
    }

    pub fn place(
        &mut self,
        idx: usize,
        inst: &Instrument,
        o: &OrderIntent,
        mut report: impl FnMut(OrderUpdate),
    ) {
        let reject = |reason| OrderUpdate {
            id: o.id,
            token: o.token,
            kind: OrderUpdateKind::Rejected(reason),
            ts: o.ts,
        };
        if !inst.tradable() {
            return report(reject(RejectReason::NotTradable));
        }
        let Some(book) = self.books[idx] else {
            return report(reject(RejectReason::NoLiquidity));
        };
        let fill = |price: i64| OrderUpdate {
            id: o.id,
            token: o.token,
            kind: OrderUpdateKind::Fill {
                cum_qty: o.qty,
                last_qty: o.qty,
                last_price: Price(price),
            },
            ts: book.exchange_timestamp.max(o.ts),
        };
        match o.order_type {
            OrderType::Market => match self.model.market_price(&book, o.side, inst.tick_size.0) {
                Some(px) => report(fill(px)),
                None => report(reject(RejectReason::NoLiquidity)),
            },
            OrderType::Limit => {
                let touch = match o.side {
                    Side::Buy => book.best_ask(),
                    Side::Sell => book.best_bid(),
                };
                let marketable = match (o.side, touch) {
                    (Side::Buy, Some(a)) => (a as i64) <= o.price.0,
                    (Side::Sell, Some(b)) => (b as i64) >= o.price.0,
                    _ => false,
                };
                if marketable && o.price.0 > 0 {
                    report(fill(touch.unwrap_or(0) as i64));
                } else if o.price.0 <= 0 {
                    report(reject(RejectReason::Broker));
                } else {
                    self.resting.push(Resting { intent: *o, idx });
                    report(OrderUpdate {
                        id: o.id,
                        token: o.token,
                        kind: OrderUpdateKind::Status(BrokerStatus::Open),
                        ts: o.ts,
                    });
                }
            }
        }
    }

    pub fn cancel(
        &mut self,
        id: OrderId,
        token: Token,
        ts: u32,
        mut report: impl FnMut(OrderUpdate),
    ) {
        if let Some(pos) = self.resting.iter().position(|r| r.intent.id == id) {
            self.resting.swap_remove(pos);
            report(OrderUpdate {
                id,
                token,
                kind: OrderUpdateKind::Cancelled,
                ts,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst() -> Instrument {
        let csv =
            format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE\n");
        *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0)
    }

    fn book(bid: i32, ask: i32) -> Tick {
        let mut t = Tick {
            token: Token(408065),
            last_price: bid,
            exchange_timestamp: 100,
            ..Tick::default()
        };
        t.buy[0] = DepthLevel {
            quantity: 10,
            price: bid,
            orders: 1,
        };
        t.sell[0] = DepthLevel {
            quantity: 10,
            price: ask,
            orders: 1,
        };
        t
    }

    fn intent(side: Side, ot: OrderType, price: i64) -> OrderIntent {
        OrderIntent {
            id: OrderId(1),
            token: Token(408065),
            side,
            qty: Qty(10),
            order_type: ot,
            price: Price(price),
            purpose: OrderPurpose::Entry,
            strategy: StrategyId::Orb,
            ts: 100,
        }
    }

    #[test]
    fn market_fills_at_touch_plus_slippage_on_tick_grid() {
        let mut b = PaperBroker::new(TouchSlippage { bps: 2.0 }, 1);
        b.on_tick(0, &book(150_000, 150_010), |_| {});
        let mut got = Vec::new();
        b.place(0, &inst(), &intent(Side::Buy, OrderType::Market, 0), |u| {
            got.push(u)
        });
        // 150010 + 30 bps-slip = 150040, already on the 5-paise grid.
        assert_eq!(
            got[0].kind,
            OrderUpdateKind::Fill {
                cum_qty: Qty(10),
                last_qty: Qty(10),
                last_price: Price(150_040)
            }
        );
        got.clear();
        b.place(0, &inst(), &intent(Side::Sell, OrderType::Market, 0), |u| {
            got.push(u)
        });
        assert_eq!(
            got[0].kind,
            OrderUpdateKind::Fill {
                cum_qty: Qty(10),
                last_qty: Qty(10),
                last_price: Price(149_970)
            }
        );
    }

    #[test]
    fn no_book_means_reject_never_a_zero_fill() {
        let mut b = PaperBroker::new(TouchSlippage { bps: 2.0 }, 1);
        let mut got = Vec::new();
        b.place(0, &inst(), &intent(Side::Buy, OrderType::Market, 0), |u| {
            got.push(u)
        });
        assert_eq!(
            got[0].kind,
            OrderUpdateKind::Rejected(RejectReason::NoLiquidity)
        );
    }

    #[test]
    fn limit_rests_until_traded_through_and_cancels() {
        let mut b = PaperBroker::new(TouchSlippage { bps: 0.0 }, 1);
        b.on_tick(0, &book(150_000, 150_010), |_| {});
        let mut got = Vec::new();
        b.place(
            0,
            &inst(),
            &intent(Side::Buy, OrderType::Limit, 149_900),
            |u| got.push(u),
        );
        assert_eq!(got[0].kind, OrderUpdateKind::Status(BrokerStatus::Open));
        got.clear();
        // Trades at the limit: not through, no fill.
        b.on_tick(0, &book(149_900, 149_905), |u| got.push(u));
        assert!(got.is_empty());
        b.on_tick(0, &book(149_895, 149_900), |u| got.push(u));
        assert_eq!(
            got[0].kind,
            OrderUpdateKind::Fill {
                cum_qty: Qty(10),
                last_qty: Qty(10),
                last_price: Price(149_900)
            }
        );
        got.clear();
        b.place(
            0,
            &inst(),
            &intent(Side::Sell, OrderType::Limit, 160_000),
            |u| got.push(u),
        );
        b.cancel(OrderId(1), Token(408065), 101, |u| got.push(u));
        assert_eq!(got[1].kind, OrderUpdateKind::Cancelled);
        // Marketable limit fills at the touch.
        got.clear();
        b.place(
            0,
            &inst(),
            &intent(Side::Buy, OrderType::Limit, 150_100),
            |u| got.push(u),
        );
        assert_eq!(
            got[0].kind,
            OrderUpdateKind::Fill {
                cum_qty: Qty(10),
                last_qty: Qty(10),
                last_price: Price(149_900)
            }
        );
    }
}
