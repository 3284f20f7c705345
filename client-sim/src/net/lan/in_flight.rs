//! The frames on their way across the segment, in the order they are delivered: by delivery
//! time, then sending order (so a run repeats exactly).
//!
//! Most of a storm's frames fall due in the order they are queued: frames reaching the
//! server's port leave the switch one after another (their arrivals only grow), and a worker
//! finishes packets in the order it took them. Those wait in first-in first-out lanes; the
//! heap keeps the rest (frames towards the clients, whose ports differ, and anything out of
//! order), and the earliest of the lanes' and the heap's heads goes first. Frames due at
//! the current instant wait behind those queued earlier for it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use netbootd::time::Instant;

/// A frame due at a later time, ordered by (time, sending order: unique, so the slot never
/// decides); the frame waits in `slots` so that the heap moves 24 bytes per level, not the
/// frame, and compares two integers (nanoseconds since the origin, not a `Duration`).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: u64,
    seq: u64,
    slot: usize,
}

/// Where the next frame waits.
#[derive(Clone, Copy)]
enum Head {
    Heap,
    Lane(usize),
}

/// Frames of type `T` in flight, with `LANES` first-in first-out lanes.
pub(super) struct InFlight<T, const LANES: usize> {
    heap: BinaryHeap<Reverse<Due>>,
    /// The frames `heap` refers to, and the free places among them.
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    /// First-in first-out lanes of (time, sending order, frame), each in delivery order.
    lanes: [VecDeque<(u64, u64, T)>; LANES],
    /// Frames due at the current instant, in sending order (no heap operation per frame
    /// on a segment without delays).
    immediate: VecDeque<T>,
    seq: u64,
    /// [`InFlight::head`] as last found, kept up to date by `push` and forgotten by `pop`:
    /// an event asks for it three times (the loop's poll, its step, the pop).
    head: Option<Option<(u64, u64, Head)>>,
}

impl<T, const LANES: usize> InFlight<T, LANES> {
    pub(super) fn new() -> Self {
        InFlight {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lanes: std::array::from_fn(|_| VecDeque::new()),
            immediate: VecDeque::new(),
            seq: 0,
            head: None,
        }
    }

    /// Queues `frame` for `at` (at or before `now`: behind the frames already due now), in
    /// `lane` when it falls due after everything there.
    pub(super) fn push(&mut self, now: Instant, at: Instant, lane: Option<usize>, frame: T) {
        if at <= now {
            self.immediate.push_back(frame);
            return;
        }
        self.seq += 1;
        let at = at.as_nanos();
        let seq = self.seq;
        // The new frame is the head if it falls due before the known head.
        let mut now_head = |place| {
            if let Some(head) = self.head.as_mut() {
                if head.is_none_or(|(a, s, _)| (at, seq) < (a, s)) {
                    *head = Some((at, seq, place));
                }
            }
        };
        if let Some(l) = lane {
            let lane = &mut self.lanes[l];
            if lane.back().is_none_or(|(last, _, _)| *last <= at) {
                if lane.is_empty() {
                    now_head(Head::Lane(l));
                }
                lane.push_back((at, seq, frame));
                return;
            }
        }
        now_head(Head::Heap);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(frame);
                slot
            }
            None => {
                self.slots.push(Some(frame));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse(Due {
            at,
            seq: self.seq,
            slot,
        }));
    }

    /// The earliest queued frame's (time, sending order) and where it waits.
    fn head(&mut self) -> Option<(u64, u64, Head)> {
        if let Some(head) = self.head {
            return head;
        }
        let head = self.find_head();
        self.head = Some(head);
        head
    }

    fn find_head(&self) -> Option<(u64, u64, Head)> {
        let mut head = self
            .heap
            .peek()
            .map(|Reverse(due)| (due.at, due.seq, Head::Heap));
        for (l, lane) in self.lanes.iter().enumerate() {
            if let Some(&(at, seq, _)) = lane.front() {
                if head.is_none_or(|(a, s, _)| (at, seq) < (a, s)) {
                    head = Some((at, seq, Head::Lane(l)));
                }
            }
        }
        head
    }

    /// When the next frame is due.
    pub(super) fn next_at(&mut self, now: Instant) -> Option<Instant> {
        if self.immediate.is_empty() {
            self.head().map(|(at, _, _)| Instant::from_nanos(at))
        } else {
            Some(now)
        }
    }

    /// The next frame due by `now`: one queued earlier for now before those sent at now.
    pub(super) fn pop(&mut self, now: Instant) -> Option<T> {
        let head = self.head().filter(|(at, _, _)| *at <= now.as_nanos());
        if head.is_some() {
            self.head = None;
        }
        match head {
            Some((_, _, Head::Heap)) => {
                let slot = self.heap.pop().expect("peeked").0.slot;
                self.free.push(slot);
                self.slots[slot].take()
            }
            Some((_, _, Head::Lane(l))) => self.lanes[l].pop_front().map(|(_, _, f)| f),
            None => self.immediate.pop_front(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_come_out_by_time_then_sending_order_whichever_queue_holds_them() {
        let mut q: InFlight<_, 1> = InFlight::new();
        let t = |us| Instant::ZERO + Duration::from_micros(us);
        q.push(t(0), t(30), Some(0), "lane 30");
        q.push(t(0), t(10), None, "heap 10");
        q.push(t(0), t(20), Some(0), "heap 20 (the lane is later)");
        q.push(t(0), t(30), None, "heap 30, sent after lane 30");
        q.push(t(0), t(40), Some(0), "lane 40");
        q.push(t(0), t(0), Some(0), "now");
        assert_eq!(q.next_at(t(0)), Some(t(0)));
        assert_eq!(q.pop(t(0)), Some("now"));
        assert_eq!(q.pop(t(5)), None);
        assert_eq!(q.next_at(t(5)), Some(t(10)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop(t(100))).collect();
        assert_eq!(
            order,
            [
                "heap 10",
                "heap 20 (the lane is later)",
                "lane 30",
                "heap 30, sent after lane 30",
                "lane 40"
            ]
        );
    }
}
