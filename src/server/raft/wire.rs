//! The controller listener's wire format: raft RPCs and application RPCs between voters (and
//! from brokers to the active controller).
//!
//! A frame is `[len u32 BE][payload]`, `len <= max_frame_bytes` (checked before allocating);
//! the payload is the serde_json of an [`Envelope`]: a request id chosen by the caller and a
//! [`Request`] or [`Response`]. Many requests may be in flight on one connection; responses
//! carry the id of their request and may come back in any order.

use std::io;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::types::{NodeId, Payload, TypeConfig};

/// A request on the controller listener.
#[derive(Debug, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot (openraft 0.9's chunked transfer).
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// An application request, handed to the node's `AppRpcHandler`.
    App(Payload),
    /// A broker-only node asks to follow the metadata log as a raft learner reachable at
    /// `addr`; the leader adds it (openraft `add_learner`, non-blocking), another voter
    /// answers with the leader it knows.
    AddLearner {
        node_id: NodeId,
        addr: String,
    },
}

/// Why an [`Request::AddLearner`] was not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AddLearnerError {
    /// Ask the leader (if this voter knows one).
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    /// Refused for good (the id is a voter's) or failed for now (a membership change in
    /// progress, a timeout): the learner asks again later either way.
    #[error("{0}")]
    Refused(String),
}

/// The answer to a [`Request`] of the same kind.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    App(Payload),
    AddLearner(Result<(), AddLearnerError>),
}

/// A request or response with the id that pairs them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub id: u64,
    pub body: T,
}

/// Why a frame could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("encode: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encode a whole frame (length prefix included).
pub fn encode<T: Serialize>(
    id: u64,
    body: &T,
    max_frame_bytes: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut frame = vec![0u8; 4];
    serde_json::to_writer(&mut frame, &Envelope { id, body })?;
    let len = frame.len() - 4;
    if len > max_frame_bytes {
        return Err(EncodeError::TooLarge {
            len,
            max: max_frame_bytes,
        });
    }
    frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(frame)
}

/// Decode a frame's payload.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> io::Result<Envelope<T>> {
    serde_json::from_slice(payload)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("decode: {e}")))
}

/// Read one frame's payload; `Ok(None)` at a clean end of stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_frame_bytes: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max_frame_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max_frame_bytes}"),
        ));
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_ones_are_refused() {
        let frame = encode(7, &Request::App(Payload(b"hello".to_vec())), 1024).unwrap();
        let mut reader = &frame[..];
        let payload = read_frame(&mut reader, 1024).await.unwrap().unwrap();
        let env: Envelope<Request> = decode(&payload).unwrap();
        assert_eq!(env.id, 7);
        assert!(matches!(env.body, Request::App(p) if p.0 == b"hello"));
        assert!(read_frame(&mut reader, 1024).await.unwrap().is_none());

        let mut reader = &frame[..];
        let err = read_frame(&mut reader, 8).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(encode(7, &Request::App(Payload(vec![b'x'; 100])), 50).is_err());
    }
}
