//! What a connection on a core is. The shard's `runtime::Handler` methods look a
//! connection's kind up and hand the event to that kind's code; nothing else branches on
//! it. A new kind of connection (a leaf node link, a cluster route, JetStream's internal
//! clients) is a new variant here, with its own module for its events.

use crate::runtime::ConnId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnectionKind {
    /// A NATS client on the client port, plain or TLS (`lifecycle`, `input`, `login`, ...).
    Client,
    /// An HTTP connection to the monitoring port, on core 0 (`monitoring`).
    Monitor,
    /// A leaf node connected to the leaf port, on core 0 (`leaf`).
    Leaf,
    /// A cluster route, accepted or dialled, on core 0 (`route`).
    Route,
    /// A connection from the WebSocket listener until its upgrade request passed
    /// (`websocket`); then a `Client`.
    WebsocketUpgrade,
}

/// Each open connection's kind, by runtime slot; a slot's entry names the generation it
/// belongs to, so a late event for a reused slot finds nothing.
#[derive(Debug, Default)]
pub(super) struct Kinds {
    slots: Vec<Option<(ConnId, ConnectionKind)>>,
}

impl Kinds {
    pub(super) fn get(&self, conn: ConnId) -> Option<ConnectionKind> {
        match self.slots.get(conn.slot as usize) {
            Some(Some((id, kind))) if *id == conn => Some(*kind),
            _ => None,
        }
    }

    pub(super) fn insert(&mut self, conn: ConnId, kind: ConnectionKind) {
        let slot = conn.slot as usize;
        if self.slots.len() <= slot {
            self.slots.resize(slot + 1, None);
        }
        debug_assert!(self.slots[slot].is_none(), "slot {slot} reused while open");
        self.slots[slot] = Some((conn, kind));
    }

    pub(super) fn remove(&mut self, conn: ConnId) {
        if let Some(entry) = self.slots.get_mut(conn.slot as usize) {
            if entry.is_some_and(|(id, _)| id == conn) {
                *entry = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_is_told_apart_by_its_generation() {
        let mut kinds = Kinds::default();
        let old = ConnId {
            slot: 3,
            generation: 1,
        };
        let new = ConnId {
            slot: 3,
            generation: 2,
        };
        kinds.insert(old, ConnectionKind::Monitor);
        assert_eq!(kinds.get(old), Some(ConnectionKind::Monitor));
        assert_eq!(kinds.get(new), None);
        kinds.remove(new);
        assert_eq!(kinds.get(old), Some(ConnectionKind::Monitor));
        kinds.remove(old);
        kinds.insert(new, ConnectionKind::Client);
        assert_eq!(
            (kinds.get(old), kinds.get(new)),
            (None, Some(ConnectionKind::Client))
        );
    }
}
