#pragma once

#include "storage/kv_store.hpp"
#include "storage/message_store.hpp"
#include "storage/session_store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

/// Atoms and message payloads the actors exchange. Everything here is local to one
/// process (never serialized), so payloads are allowed as "unsafe" message types.
namespace outpost::actors {

using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using cleanup_atom = caf::atom_constant<caf::atom("cleanup")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using durable_atom = caf::atom_constant<caf::atom("durable")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
/// Mailbox -> consumer, once per subscription: the backlog is out (nothing left to send).
using drained_atom = caf::atom_constant<caf::atom("drained")>;
/// Mailbox -> writer: entries it found expired before delivery (the writer deletes and counts).
using expired_atom = caf::atom_constant<caf::atom("expired")>;
/// Consumer -> mailbox: an entry could not be delivered (retryable): redelivery after back-off.
using nack_atom = caf::atom_constant<caf::atom("nack")>;

/// -> writer: a batch of records (identities, the agent's state, ...) built by a typed store
/// of storage/, committed in the writer's next pass; answered with `records_reply` once written
/// (synced when `durable`).
using records_atom = caf::atom_constant<caf::atom("records")>;
/// -> the deployment source: `(apply_deployment_atom, std::string manifest)` -> `std::string`
/// ("" in force, else why not): the service API's applyConfigurationContent, and a child
/// edge's deployment from its parent (actors/app/deployment_source.hpp).
using apply_deployment_atom = caf::atom_constant<caf::atom("applydep")>;
/// -> writer: a client connects; answered with its `storage::stored_session`.
using session_restore_atom = caf::atom_constant<caf::atom("sessload")>;
/// -> writer: a persistent session's subscriptions changed (no reply; durable).
using session_subs_atom = caf::atom_constant<caf::atom("sesssubs")>;

struct records_reply {
  std::error_code error;
};

using storage::append_outcome;

/// What a read from the store returns; `next` is the queue's next sequence at read time,
/// so a mailbox knows the read saw everything that was durable then.
struct read_reply {
  std::error_code error;
  std::vector<storage::stored_entry> entries;
  storage::sequence next = 0;
};

struct open_reply {
  std::error_code error;
  storage::queue_handle queue = 0;
};

/// One queue's figures for metrics and the CLI.
struct queue_report {
  storage::queue_name name;
  storage::queue_handle queue = 0;
  storage::queue_stats stats;
  /// When the oldest live entry was stored (ms since the epoch); 0 = the queue is empty.
  std::int64_t oldest_enqueued_ms = 0;
};

struct store_report {
  std::vector<queue_report> queues;
  std::uint64_t used_bytes = 0;
  std::uint64_t max_size_bytes = 0;
  bool full = false;      ///< appends are refused (quota or disk) until space frees
  bool disk_full = false; ///< the filesystem under the store is full (kv_store::check_space)
  std::uint64_t disk_free_bytes = 0;
  std::uint64_t reserve_bytes = 0;
};

using append_requests = std::vector<storage::append_request>;
using append_outcomes = std::vector<append_outcome>;
using ack_requests = std::vector<storage::ack_request>;
using entries = std::vector<storage::stored_entry>;

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::storage::queue_name)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::append_requests)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::append_outcomes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::ack_requests)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::entries)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<outpost::storage::sequence>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::read_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::open_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::store_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::records_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::storage::write_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::storage::stored_session)
