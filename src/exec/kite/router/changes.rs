//! Cancels and modifications of our working orders at Kite. Either may arrive before Kite
//! answered the place call with its order id: it is kept on the tracked order and sent the
//! moment the id is known, the newest modification winning.

use super::*;

impl Shared {
    /// Runs a modify or cancel, sending it again (`backoff` apart, up to `max_retries` times)
    /// while it is refused for a rate limit: such a refusal never reached the OMS.
    fn paced(
        &self,
        order: &str,
        what: &str,
        mut call: impl FnMut() -> Result<(), KiteError>,
    ) -> Result<(), KiteError> {
        let mut retries = 0;
        loop {
            match call() {
                Err(e) if e.is_rate_limited() && retries < self.settings.max_retries => {
                    retries += 1;
                    log::warn!(target: "order", order = order, error = e.to_string().as_str();
                        "The {what} of {order} was rate limited ({e}); retry {retries} of {}",
                        self.settings.max_retries);
                    std::thread::sleep(self.settings.backoff);
                }
                result => return result,
            }
        }
    }

    /// Sends a cancel that waited for Kite's order id, once the id is known.
    pub(super) fn cancel_if_wanted(&self, tag: &str) {
        let kite_id = self.book.lock().ok().and_then(|mut b| {
            let t = b.by_tag.get_mut(tag)?;
            if !t.cancel_wanted || t.done {
                return None;
            }
            let k = t.kite_id.clone()?;
            t.cancel_wanted = false;
            Some(k)
        });
        if let Some(k) = kite_id {
            log::info!(target: "order", tag = tag, order_id = k.as_str();
                "Order {tag} has its Kite id {k}: sending the cancel that waited for it");
            return self.send_cancel(&k);
        }
        let waiting = self.book.lock().ok().and_then(|b| {
            let t = b.by_tag.get(tag)?;
            t.modify_wanted.as_ref().map(|_| (t.id, t.token, t.ts))
        });
        if let Some((id, token, ts)) = waiting {
            self.send_modify_if_wanted(tag, id, token, ts);
        }
    }

    pub(super) fn cancel(&self, id: OrderId) {
        // The book is keyed by the tag, which the order id determines.
        let tag = id.tag();
        let tag = tag.as_str();
        let kite_id = {
            let Ok(mut b) = self.book.lock() else {
                return;
            };
            match b.by_tag.get_mut(tag) {
                None => {
                    b.cancelled_unsent.insert(id);
                    log::info!(target: "order", tag = tag;
                        "Cancel for order {tag} before it was sent: it will not be placed");
                    return;
                }
                Some(t) if t.done => return,
                Some(t) => match &t.kite_id {
                    Some(k) => k.clone(),
                    None => {
                        t.cancel_wanted = true;
                        log::info!(target: "order", tag = tag;
                            "Cancel for order {tag} before Kite gave it an id: sent when the id is known");
                        return;
                    }
                },
            }
        };
        self.send_cancel(&kite_id);
    }

    /// Records the newest modification of an order and sends it when Kite's id is known.
    pub(super) fn modify(
        &self,
        id: OrderId,
        token: Token,
        divisor: i64,
        qty: Qty,
        price: Price,
        trigger: Price,
    ) {
        let tag = id.tag();
        let m = ModifyOrder {
            quantity: (qty.0 > 0).then_some(qty.0),
            order_type: None,
            price: (price.0 > 0).then(|| format_rupees(price.0, divisor)),
            trigger_price: (trigger.0 > 0).then(|| format_rupees(trigger.0, divisor)),
        };
        let ts = {
            let Ok(mut b) = self.book.lock() else {
                return;
            };
            match b.by_tag.get_mut(tag.as_str()) {
                Some(t) if !t.done => {
                    t.modify_wanted = Some(m);
                    t.ts
                }
                _ => return,
            }
        };
        self.send_modify_if_wanted(tag.as_str(), id, token, ts);
    }

    pub(super) fn send_modify_if_wanted(&self, tag: &str, id: OrderId, token: Token, ts: u32) {
        let job = self.book.lock().ok().and_then(|mut b| {
            let t = b.by_tag.get_mut(tag)?;
            if t.done {
                return None;
            }
            let k = t.kite_id.clone()?;
            Some((k, t.modify_wanted.take()?))
        });
        let Some((kite_id, m)) = job else {
            return;
        };
        let status = match self.paced(tag, "modification", || self.rest.modify(&kite_id, &m)) {
            Ok(()) => BrokerStatus::Modified,
            Err(e) => {
                if e.is_token() {
                    self.on_token_error(&e);
                }
                log::warn!(target: "order", tag = tag, order_id = kite_id.as_str(), error = e.to_string().as_str();
                    "Modification of order {tag} refused: {e}; it works on unchanged");
                BrokerStatus::NotModified
            }
        };
        self.send(OrderUpdate {
            id,
            token,
            kind: OrderUpdateKind::Status(status),
            ts,
        });
    }

    pub(super) fn send_cancel(&self, kite_id: &str) {
        match self.paced(kite_id, "cancel", || self.rest.cancel(kite_id)) {
            Ok(()) => {}
            Err(e) if e.is_token() => self.on_token_error(&e),
            Err(e) => {
                log::warn!(target: "order", order_id = kite_id, error = e.to_string().as_str();
                    "Cancel of {kite_id} failed: {e}");
            }
        }
    }
}
