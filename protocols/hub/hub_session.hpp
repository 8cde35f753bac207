#pragma once

#include "protocols/common/ring_queue.hpp"
#include "protocols/hub/bound_routes.hpp"
#include "protocols/iothub/identity.hpp"
#include "routing/model/message.hpp"
#include "storage/message_store.hpp"

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <variant>
#include <vector>

namespace outpost::hub {

/// What every session of a hub shares. Value type.
struct session_settings {
  std::string edge_device_id;
  /// Inbound messages awaiting durability at which the client's input is no longer read
  /// (reading resumes at half): backpressure instead of an unbounded queue.
  std::size_t max_pending_in = 64;
  /// Deliveries to the client not yet acknowledged; more wait in the session (the mailboxes'
  /// windows bound how many can wait).
  std::size_t max_inflight_out = 65534;
  /// When the store refuses a message (quota, full disk), it is offered again after this.
  std::int64_t store_retry_ms = 200;
  /// Bytes queued for the client above which its input is no longer read (resumes at half);
  /// a queue that stays above it without shrinking for `output_stall_ms` ends the session.
  std::size_t max_output_bytes = 4u << 20;
  std::int64_t output_stall_ms = 30000;
  std::int64_t output_check_ms = 100; ///< how often a full queue is looked at again
  /// A cloud-to-device message abandoned this many times is dropped (IoT Hub's default
  /// MaxDeliveryCount: it dead-letters it).
  std::uint32_t max_c2d_deliveries = 10;
};

/// Why an inbound message was acknowledged without being stored (IoT Edge drops and counts).
enum class drop_reason : std::uint8_t {
  unknown_topic,       ///< an address no hub operation answers to
  unsupported,         ///< a hub operation this hub does not serve yet
  too_many_properties, ///< the property bag is over its bound
  no_route,            ///< no route matched
  undecodable,         ///< a stored message could not be decoded (delivery side)
  max_delivery_count,  ///< a C2D message abandoned `max_c2d_deliveries` times (dead-lettered)
};
const char* to_string(drop_reason r) noexcept;

/// Why the core wants the session ended.
enum class end_reason : std::uint8_t {
  output_stalled, ///< the client did not read what was sent to it for `output_stall_ms`
};

/// Store these messages with one request to the store; answer with `on_stored(batch, ...)`.
struct append_action {
  std::uint64_t batch = 0;
  std::vector<storage::append_request> requests;
};
/// The inbound message `tag` is done (durable in every target, or dropped): acknowledge it to
/// the client. Acks come in arrival order.
struct ack_action {
  std::uint64_t tag = 0;
};
/// Subscribe this session to the mailbox; it answers with entries (`on_entries`) and, once
/// its backlog is out, `on_drained`.
struct attach_action {
  const binding* mailbox = nullptr;
};
/// Send `msg` (module input `from->target.input`) to the client; report its ack with
/// `on_delivered(token)`.
struct deliver_action {
  std::uint64_t token = 0;
  const binding* from = nullptr;
  routing::message msg;
  std::int64_t enqueued_ms = 0;
  std::uint32_t delivery_count = 0; ///< earlier deliveries of this entry the client abandoned
};
/// These entries of the mailbox are done (delivered and acknowledged, or undeliverable).
struct release_action {
  const binding* mailbox = nullptr;
  std::vector<storage::sequence> seqs;
};
/// What a client asks of its own twin.
enum class twin_op : std::uint8_t {
  get,            ///< the whole twin (desired and reported with their versions)
  patch_reported, ///< a reported-properties patch (`body`)
};
/// Carry out a twin request of the session's identity; once it is answered (a patch durable)
/// call `on_twin_done(index)`, which acknowledges it in arrival order.
struct twin_action {
  twin_op op = twin_op::get;
  std::string request_id; ///< the client's correlation (MQTT `$rid`), echoed in the answer
  std::string body;
  std::uint64_t index = 0;
};
/// The client answered the direct method call `request_id` with `status` and `body`.
struct method_response_action {
  std::string request_id;
  int status = 0;
  std::string body;
};
/// The credentials' expiry has come: authenticate them again, then `set_expiry` or end.
struct reauthenticate_action {};
/// End the session; actions before this one are still carried out.
struct end_action {
  end_reason why = end_reason::output_stalled;
};

using action =
    std::variant<append_action, ack_action, attach_action, deliver_action, release_action,
                 twin_action, method_response_action, reauthenticate_action, end_action>;
using actions = std::vector<action>;

/// What the shell counts (metrics) as the core decides. Called synchronously; the default
/// implementations do nothing.
class session_observer {
public:
  virtual ~session_observer() = default;
  /// An inbound message, mapped from its address (`m` holds the properties, not yet the body).
  virtual void received(const routing::message& m, std::size_t body_bytes);
  virtual void dropped(drop_reason why, const routing::message& m);
  /// A stored message handed to the client.
  virtual void delivered(const routing::message& m, const binding& from, std::int64_t enqueued_ms);
  /// A message with its body and the mailboxes it goes to (empty: no route matched).
  virtual void routed(const routing::message& m, const std::vector<bound_target>& targets);
  /// The store refused a message (reported once per stall, not per retry).
  virtual void store_refused(std::error_code ec);
};

/// The protocol-independent part of a client session in the edge hub: what an MQTT, AMQP or
/// WebSocket connection (or an identity on the upstream link) does once its protocol is decoded.
/// - Inbound: maps an address to a hub operation for the authenticated identity, matches routes
///   against a bound route snapshot, batches store appends, acknowledges each message once it is
///   durable in every target (in arrival order), retries what the store refuses while the
///   client's input is not read (backpressure, never loss), and drops what has nowhere to go.
/// - Outbound: attaches the module's input mailboxes in priority order (a lower priority starts
///   when the higher one has drained its backlog), delivers their entries with tokens within a
///   window, and releases the entries the client acknowledged (batched per mailbox).
/// - Back-pressure on output: a client that does not read its output stops being read, and is
///   ended if it stays full.
/// Pure: events and time in, actions out; no sockets, actors, clocks or logging. Owned by one
/// actor; not thread-safe.
class hub_session {
public:
  explicit hub_session(session_settings settings, session_observer* observer = nullptr);
  /// Settings shared by every session of a hub (one copy, not ~90 bytes per connection).
  explicit hub_session(std::shared_ptr<const session_settings> settings,
                       session_observer* observer = nullptr);

  /// The connection authenticated as `who`; `expires_s` is its credentials' expiry (seconds
  /// since the epoch, 0 = none).
  void open(iothub::client_identity who, std::int64_t expires_s);
  /// Names the identity before the session opens (authenticated, not yet registered), so
  /// `who()` is the one copy of it the connection's glue needs.
  void identify(iothub::client_identity who) { who_ = std::move(who); }
  const iothub::client_identity& who() const noexcept { return who_; }
  bool is_open() const noexcept { return open_; }

  // -- inbound -------------------------------------------------------------------------------

  /// A message published to an IoT Hub MQTT topic (the MQTT and MQTT-over-WebSocket dialect:
  /// the property bag travels in the topic). `tag` != 0: acknowledge it (`ack_action`) once it
  /// is durable or dropped; 0: at most once.
  void on_publish(std::string_view topic, std::string body, std::uint64_t tag,
                  const bound_routes& routes, actions& out);
  /// A telemetry message already mapped by its protocol (AMQP: properties in the message).
  /// The connection's device and module ids are stamped here.
  void on_telemetry(routing::message msg, std::uint64_t tag, const bound_routes& routes,
                    actions& out);
  /// The twin request of `twin_action::index` was answered.
  void on_twin_done(std::uint64_t index, actions& out) { done(index, out); }
  /// The identity's reported-properties `patch` was accepted: routes it as a twin change
  /// notification (facts §5.5: body = the patch, messageSchema `twinChangeNotification`,
  /// JSON, the reporter's ids as connectionDeviceId/-ModuleId), source
  /// `/twinChangeNotifications`. Stored like any message; nobody acknowledges it.
  void on_reported(std::string patch, const bound_routes& routes, actions& out);
  /// Ends a pass over the input: emits the pass's one `append_action` and the releases of the
  /// pass's client acknowledgements.
  void flush(actions& out);
  /// The store's answer to `append_action` `batch` (one outcome per request, in order).
  void on_stored(std::uint64_t batch, std::vector<storage::append_outcome> outcomes,
                 std::int64_t now_ms, actions& out);

  // -- outbound ------------------------------------------------------------------------------

  /// The client subscribed to its module inputs: attach its input mailboxes of `routes`.
  void want_inputs(std::shared_ptr<const bound_routes> routes, actions& out);
  /// The device subscribed to its cloud-to-device messages: attach its C2D queue `queue`
  /// (a `device_bound` binding, kept alive by the session). Ignored for a module or twice.
  void want_c2d(std::shared_ptr<const binding> queue, actions& out);
  /// The routes changed: attach new input mailboxes (mailboxes already attached stay attached,
  /// so messages stored under a removed route are still delivered).
  void on_routes(std::shared_ptr<const bound_routes> routes, actions& out);
  /// Entries of mailbox `queue`, oldest first.
  void on_entries(storage::queue_handle queue, std::vector<storage::stored_entry> entries,
                  actions& out);
  /// Mailbox `queue` has sent its backlog: the next lower priority of that input starts.
  void on_drained(storage::queue_handle queue, actions& out);
  /// The client acknowledged the delivery `token` (released with the next `flush`).
  void on_delivered(std::uint64_t token, actions& out);
  /// The client abandoned the delivery `token` (AMQP `released`): a C2D message is delivered
  /// again with its delivery count raised, and dropped once it reaches `max_c2d_deliveries`;
  /// any other delivery is done, as IoT Edge treats a module input that is not completed.
  void on_abandoned(std::uint64_t token, actions& out);

  // -- time and output -----------------------------------------------------------------------

  /// Bytes queued for the client after the last send.
  void on_output(std::size_t queued_bytes, std::int64_t now_ms, actions& out);
  /// New credentials expiry (after re-authentication), seconds since the epoch; 0 = none.
  void set_expiry(std::int64_t expires_s) noexcept { expires_s_ = expires_s; }
  /// Carries out what is due at `now_ms` (store retries, credentials expiry).
  void on_tick(std::int64_t now_ms, actions& out);
  /// When `on_tick` (or, while the output is full, `on_output`) has something to do next.
  std::int64_t next_deadline() const noexcept;

  /// Whether the client's input should be read now (no backpressure); keeps the hysteresis.
  bool reading() noexcept;
  /// Inbound messages awaiting their acknowledgement.
  std::size_t pending_in() const noexcept { return pending_in_.size(); }
  std::size_t inflight_out() const noexcept { return out_ ? out_->inflight.size() : 0; }
  bool output_full() const noexcept { return out_full_; }
  bool stalled() const noexcept {
    return retry_ && (!retry_->requests.empty() || retry_->batch != 0);
  }
  /// The session is over: nothing more is emitted (the mailboxes redeliver what was not
  /// acknowledged to the next session).
  void close() noexcept { open_ = false; }

private:
  struct pending {
    std::uint64_t tag; ///< the caller's; 0 = nothing to acknowledge
    bool done;
  };
  struct delivery {
    const binding* mailbox;
    storage::sequence seq;
    /// C2D only (a few, slow): the entry, kept to deliver it again when abandoned.
    std::optional<storage::stored_entry> entry;
    std::uint32_t delivery_count = 0;
  };
  struct waiting_entry {
    const binding* mailbox;
    storage::stored_entry entry;
  };

  void route(routing::message msg, std::uint64_t tag, const bound_routes& routes, actions& out);
  std::uint64_t track(std::uint64_t tag);
  void done(std::uint64_t index, actions& out);
  void drop(drop_reason why, const routing::message& m, std::uint64_t tag, actions& out);
  void attach(const binding* b, actions& out);
  void attach_inputs(actions& out);
  void deliver(const binding* from, storage::stored_entry e, actions& out);
  void send(const binding* from, storage::stored_entry e, actions& out,
            std::uint32_t delivery_count = 0);
  void release(const binding* mailbox, storage::sequence seq);

  /// What a session that receives holds: allocated when it first subscribes to its inputs or
  /// its C2D queue. Ten thousand devices that only send telemetry hold a pointer each instead
  /// of ~290 bytes of empty containers (and the session actor stays in a smaller size class).
  struct outbound {
    std::shared_ptr<const bound_routes> routes;            ///< the attached bindings' snapshot
    std::vector<std::shared_ptr<const bound_routes>> held; ///< earlier ones, still attached
    std::unordered_map<storage::queue_handle, const binding*> inputs;
    std::shared_ptr<const binding> c2d; ///< the device's C2D queue, once it subscribed
    std::map<std::string, std::deque<const binding*>> waiting_inputs;
    std::unordered_map<std::uint64_t, delivery> inflight;
    ring_queue<waiting_entry> waiting_out; ///< beyond the window, in arrival order
    std::uint64_t next_token = 1;
    std::vector<std::pair<const binding*, std::vector<storage::sequence>>> releases;
  };
  outbound& ob();

  std::shared_ptr<const session_settings> settings_;
  session_observer* observer_;
  iothub::client_identity who_;
  // The flags together (no padding between them): ten thousand connections hold one each.
  bool open_ = false;
  bool refused_reported_ = false;
  bool paused_ = false;
  bool inputs_wanted_ = false;
  bool out_full_ = false;
  std::int64_t expires_s_ = 0;

  // inbound
  /// Inbound messages in arrival order, from index `in_base_` on; acknowledged from the front
  /// as they are done (an index of 0 means "nothing to acknowledge").
  ring_queue<pending> pending_in_;
  std::uint64_t in_base_ = 1;
  std::vector<storage::append_request> batch_; ///< this pass's appends
  std::vector<std::uint64_t> batch_index_;     ///< their inbound indexes
  std::uint64_t next_batch_ = 1;
  /// Batches the store has not answered: their inbound indexes, parallel to the requests.
  /// A few at a time (a client's pipelined batches): a vector, not a hash map.
  std::vector<std::pair<std::uint64_t, std::vector<std::uint64_t>>> stores_;
  /// Messages the store refused (quota, full disk), offered again: only while it refuses.
  struct refusal {
    std::vector<storage::append_request> requests;
    std::vector<std::uint64_t> index;
    std::uint64_t batch = 0; ///< the retry batch with the store (0 = none)
    std::int64_t at = 0;     ///< when to offer them again (0 = not planned)
  };
  std::unique_ptr<refusal> retry_;

  // outbound
  std::unique_ptr<outbound> out_;

  // output
  std::size_t out_queued_ = 0;
  std::int64_t out_stuck_since_ = 0;
  std::int64_t out_checked_at_ = 0;
};

} // namespace outpost::hub
