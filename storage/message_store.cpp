#include "storage/message_store.hpp"

#include "storage/errc.hpp"
#include "storage/records.hpp"

#include <algorithm>
#include <limits>

namespace outpost::storage {

namespace {

constexpr std::int64_t no_expiry = std::numeric_limits<std::int64_t>::max();

} // namespace

/// One write batch plus the in-memory changes it implies, applied only after the batch is
/// written. Keeps `message_store` unchanged when the engine fails.
class message_store::txn {
public:
  struct queue_delta {
    std::int64_t length = 0;
    std::int64_t bytes = 0;
    sequence next = 0;       ///< 0 = unchanged
    sequence checkpoint = 0; ///< 0 = unchanged
    std::int64_t min_expiry = no_expiry;
  };

  explicit txn(message_store& s) : s_(s) {}

  write_batch batch;
  std::int64_t used_delta = 0;

  queue_delta& delta(queue_handle q) { return queues_[q]; }

  sequence next_seq(queue_handle q) {
    auto& d = delta(q);
    if (d.next == 0) {
      d.next = s_.find(q)->stats.next;
    }
    return d.next++;
  }

  sequence checkpoint(queue_handle q) {
    auto& d = delta(q);
    return d.checkpoint != 0 ? d.checkpoint : s_.find(q)->stats.checkpoint;
  }

  sequence next(queue_handle q) {
    auto& d = delta(q);
    return d.next != 0 ? d.next : s_.find(q)->stats.next;
  }

  void set_refs(message_id id, std::uint32_t n) { refs_[id] = n; }

  /// Removes one reference to body `id`; the body goes with its last reference.
  void drop_ref(message_id id, std::uint32_t body_size) {
    const auto n = refs(id);
    if (n == 0) {
      return; // already gone: nothing references it any more
    }
    const auto key = records::id_key(id);
    if (n == 1) {
      batch.erase(column::messages, key);
      used_delta -= static_cast<std::int64_t>(body_size + records::body_overhead);
    } else if (n == 2) {
      batch.erase(column::refs, key);
    } else {
      batch.put(column::refs, key, records::encode_refcount(n - 1));
    }
    refs_[id] = n - 1;
  }

  /// Removes the entry `e` of queue `q` from the accounting (the caller erases its key).
  void drop_entry(queue_handle q, const records::entry_value& e) {
    auto& d = delta(q);
    d.length -= 1;
    d.bytes -= e.body_size;
    used_delta -= static_cast<std::int64_t>(records::entry_cost);
    if (e.inline_body) { // its body goes with its key
      used_delta -= static_cast<std::int64_t>(e.body_size + records::body_overhead);
      return;
    }
    drop_ref(e.id, e.body_size);
  }

  void apply() {
    for (const auto& [q, d] : queues_) {
      auto& st = s_.find(q)->stats;
      st.length = static_cast<std::uint64_t>(static_cast<std::int64_t>(st.length) + d.length);
      st.bytes = static_cast<std::uint64_t>(static_cast<std::int64_t>(st.bytes) + d.bytes);
      if (d.next != 0) {
        st.next = d.next;
      }
      if (d.checkpoint != 0) {
        st.checkpoint = d.checkpoint;
      }
      auto& qs = *s_.find(q);
      qs.next_expiry = std::min(qs.next_expiry, d.min_expiry);
    }
    for (const auto& [id, n] : refs_) {
      if (n >= 2) {
        s_.shared_refs_[id] = n;
      } else {
        s_.shared_refs_.erase(id);
      }
    }
    s_.used_bytes_ =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(s_.used_bytes_) + used_delta);
  }

private:
  std::uint32_t refs(message_id id) const {
    if (auto i = refs_.find(id); i != refs_.end()) {
      return i->second;
    }
    if (auto i = s_.shared_refs_.find(id); i != s_.shared_refs_.end()) {
      return i->second;
    }
    return 1;
  }

  message_store& s_;
  std::unordered_map<queue_handle, queue_delta> queues_;
  std::unordered_map<message_id, std::uint32_t> refs_;
};

result<message_store> message_store::open(kv_store& kv, store_limits limits) {
  message_store s{kv, limits};
  if (auto r = s.load(); !r) {
    return r.error();
  }
  return s;
}

message_store::queue_state* message_store::find(queue_handle q) {
  if (q == 0 || q > queues_.size() || !queues_[q - 1].registered) {
    return nullptr;
  }
  return &queues_[q - 1];
}

const message_store::queue_state* message_store::find(queue_handle q) const {
  return const_cast<message_store*>(this)->find(q);
}

result<void> message_store::load() {
  std::error_code err;
  auto r = kv_->scan(column::queues, {}, {}, [&](std::string_view k, std::string_view v) {
    const auto name = records::decode_queue_name_key(k);
    const auto handle = records::decode_queue_handle(v);
    if (!name || !handle) {
      err = errc::corrupt_record;
      return false;
    }
    const auto q = *handle;
    if (queues_.size() < q) {
      queues_.resize(q);
    }
    auto& qs = queues_[q - 1];
    qs.registered = true;
    qs.name = {std::string{name->endpoint}, name->priority};
    return true;
  });
  if (!r || err) {
    return r ? err : r.error();
  }
  for (queue_handle q = 1; q <= queues_.size(); ++q) {
    if (queues_[q - 1].registered) {
      if (auto lr = load_queue(q); !lr) {
        return lr;
      }
    }
  }
  r = kv_->scan(column::refs, {}, {}, [&](std::string_view k, std::string_view v) {
    const auto id = records::decode_id_key(k);
    const auto n = records::decode_refcount(v);
    if (!id || !n) {
      err = errc::corrupt_record;
      return false;
    }
    shared_refs_[*id] = *n;
    return true;
  });
  if (!r || err) {
    return r ? err : r.error();
  }
  r = kv_->scan(column::messages, {}, {}, [&](std::string_view k, std::string_view v) {
    const auto id = records::decode_id_key(k);
    if (!id) {
      err = errc::corrupt_record;
      return false;
    }
    used_bytes_ += k.size() + v.size();
    next_id_ = std::max(next_id_, *id + 1);
    return true;
  });
  if (!r || err) {
    return r ? err : r.error();
  }
  return ok();
}

result<void> message_store::load_queue(queue_handle q) {
  auto& qs = queues_[q - 1];
  auto cp = kv_->get(column::checkpoints, records::queue_handle_key(q));
  if (!cp) {
    return cp.error();
  }
  if (*cp) {
    const auto seq = records::decode_checkpoint(**cp);
    if (!seq) {
      return errc::corrupt_record;
    }
    qs.stats.checkpoint = *seq;
  }
  qs.stats.next = qs.stats.checkpoint + 1;
  std::error_code err;
  const auto begin = records::entry_key(q, 0);
  const auto end = records::queue_end_key(q);
  auto r = kv_->scan(column::entries, begin, end, [&](std::string_view k, std::string_view v) {
    auto e = records::decode_entry(v);
    if (!e || k.size() != 12) {
      err = errc::corrupt_record;
      return false;
    }
    qs.stats.length += 1;
    qs.stats.bytes += e->body_size;
    used_bytes_ += records::entry_cost;
    if (e->inline_body) { // its body has no `messages` key: account it and its id here
      used_bytes_ += e->body_size + records::body_overhead;
      next_id_ = std::max(next_id_, e->id + 1);
    }
    qs.stats.next = std::max(qs.stats.next, records::entry_key_seq(k) + 1);
    if (e->expires_ms != 0) {
      qs.next_expiry = std::min(qs.next_expiry, e->expires_ms);
    }
    return true;
  });
  if (!r || err) {
    return r ? err : r.error();
  }
  return ok();
}

result<queue_handle> message_store::open_queue(const queue_name& name) {
  for (queue_handle q = 1; q <= queues_.size(); ++q) {
    const auto& qs = queues_[q - 1];
    if (qs.registered && qs.name.endpoint == name.endpoint && qs.name.priority == name.priority) {
      return q;
    }
  }
  const auto q = static_cast<queue_handle>(queues_.size() + 1);
  write_batch b;
  b.put(column::queues, records::queue_name_key(name.endpoint, name.priority),
        records::encode_queue_handle(q));
  if (auto r = kv_->write(b, write_mode::durable); !r) {
    return r.error();
  }
  queue_state qs;
  qs.registered = true;
  qs.name = name;
  queues_.push_back(std::move(qs));
  return q;
}

std::vector<result<append_result>> message_store::append(
    const std::vector<append_request>& requests, std::int64_t now_ms) {
  std::vector<result<append_result>> out;
  out.reserve(requests.size());
  txn t{*this};
  message_id next_id = next_id_;
  for (const auto& req : requests) {
    const bool known = std::all_of(req.targets.begin(), req.targets.end(),
                                   [&](const append_target& a) { return find(a.queue); });
    if (!known) {
      out.emplace_back(errc::unknown_queue);
      continue;
    }
    const std::uint64_t cost =
        req.body.size() + records::body_overhead + req.targets.size() * records::entry_cost;
    const auto used =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(used_bytes_) + t.used_delta);
    if (limits_.max_size_bytes != 0 && used + cost > limits_.max_size_bytes) {
      out.emplace_back(errc::quota_exceeded);
      continue;
    }
    append_result res;
    if (req.targets.empty()) {
      out.emplace_back(std::move(res)); // routed nowhere: nothing to keep
      continue;
    }
    res.id = next_id++;
    const bool shared = req.targets.size() >= 2;
    if (shared) { // stored once, referenced by every target's entry
      const auto key = records::id_key(res.id);
      const auto n = static_cast<std::uint32_t>(req.targets.size());
      t.batch.put(column::messages, key, records::encode_body(req.body));
      t.batch.put(column::refs, key, records::encode_refcount(n));
      t.set_refs(res.id, n);
    }
    const auto size = static_cast<std::uint32_t>(req.body.size());
    for (const auto& target : req.targets) {
      const auto seq = t.next_seq(target.queue);
      const std::int64_t expires = target.ttl_ms > 0 ? now_ms + target.ttl_ms : 0;
      const records::entry_value e{res.id, now_ms, expires, size, false, {}};
      t.batch.put(column::entries, records::entry_key(target.queue, seq),
                  shared ? records::encode_entry(e) : records::encode_inline_entry(e, req.body));
      auto& d = t.delta(target.queue);
      d.length += 1;
      d.bytes += size;
      if (expires != 0) {
        d.min_expiry = std::min(d.min_expiry, expires);
      }
      res.seqs.push_back(seq);
    }
    t.used_delta += static_cast<std::int64_t>(cost);
    out.emplace_back(std::move(res));
  }
  if (t.batch.empty()) {
    return out;
  }
  if (auto w = kv_->write(t.batch, write_mode::durable); !w) {
    for (auto& r : out) {
      if (r) {
        r = w.error();
      }
    }
    return out;
  }
  t.apply();
  next_id_ = next_id;
  return out;
}

result<std::vector<stored_entry>> message_store::read(queue_handle q, sequence from,
                                                      std::size_t max, std::int64_t now_ms,
                                                      std::vector<sequence>* expired) {
  const auto* qs = find(q);
  if (!qs) {
    return errc::unknown_queue;
  }
  std::vector<stored_entry> out;
  if (max == 0) {
    return out;
  }
  from = std::max(from, qs->stats.checkpoint + 1);
  std::error_code err;
  const auto begin = records::entry_key(q, from);
  const auto end = records::queue_end_key(q);
  auto r = kv_->scan(column::entries, begin, end, [&](std::string_view k, std::string_view v) {
    auto e = records::decode_entry(v);
    if (!e) {
      err = errc::corrupt_record;
      return false;
    }
    if (records::expired(*e, now_ms)) {
      if (expired) {
        expired->push_back(records::entry_key_seq(k));
      }
      return true;
    }
    if (e->inline_body) {
      out.push_back(
          {records::entry_key_seq(k), e->id, e->enqueued_ms, e->expires_ms, std::string{e->body}});
      return out.size() < max;
    }
    auto body = kv_->get(column::messages, records::id_key(e->id));
    if (!body) {
      err = body.error();
      return false;
    }
    auto bytes = *body ? records::decode_body(**body, e->body_size) : std::nullopt;
    if (!bytes) {
      err = errc::corrupt_record;
      return false;
    }
    out.push_back(
        {records::entry_key_seq(k), e->id, e->enqueued_ms, e->expires_ms, std::string{*bytes}});
    return out.size() < max;
  });
  if (!r) {
    return r.error();
  }
  if (err) {
    return err;
  }
  return out;
}

result<std::size_t> message_store::drop_expired(queue_handle q, const std::vector<sequence>& seqs,
                                                std::int64_t now_ms) {
  if (!find(q)) {
    return errc::unknown_queue;
  }
  txn t{*this};
  std::size_t dropped = 0;
  for (const auto seq : seqs) {
    if (seq <= t.checkpoint(q)) {
      continue; // acknowledged: the ack deleted it
    }
    const auto key = records::entry_key(q, seq);
    auto v = kv_->get(column::entries, key);
    if (!v) {
      return v.error();
    }
    if (!*v) {
      continue; // the cleanup was first
    }
    auto e = records::decode_entry(**v);
    if (!e) {
      return errc::corrupt_record;
    }
    if (!records::expired(*e, now_ms)) {
      continue;
    }
    t.batch.erase(column::entries, key);
    t.drop_entry(q, *e);
    ++dropped;
  }
  if (t.batch.empty()) {
    return dropped;
  }
  if (auto w = kv_->write(t.batch, write_mode::lazy); !w) {
    return w.error();
  }
  t.apply();
  return dropped;
}

result<void> message_store::ack(const std::vector<ack_request>& requests) {
  txn t{*this};
  // One acknowledgement per queue: the highest. A pass often holds one per delivered message.
  std::vector<ack_request> merged;
  for (const auto& req : requests) {
    auto i = std::find_if(merged.begin(), merged.end(),
                          [&](const ack_request& m) { return m.queue == req.queue; });
    if (i == merged.end()) {
      merged.push_back(req);
    } else {
      i->up_to = std::max(i->up_to, req.up_to);
    }
  }
  for (const auto& req : merged) {
    if (!find(req.queue)) {
      return errc::unknown_queue;
    }
    const auto cp = t.checkpoint(req.queue);
    const auto up_to = std::min(req.up_to, t.next(req.queue) - 1);
    if (up_to <= cp) {
      continue;
    }
    const auto begin = records::entry_key(req.queue, cp + 1);
    const auto end = records::entry_key(req.queue, up_to + 1);
    std::error_code err;
    // Point deletes of the keys found, not a range delete: RocksDB keeps every range
    // tombstone in the memtable and every later iterator pays for all of them.
    auto r = kv_->scan(column::entries, begin, end, [&](std::string_view k, std::string_view v) {
      auto e = records::decode_entry(v);
      if (!e) {
        err = errc::corrupt_record;
        return false;
      }
      t.drop_entry(req.queue, *e);
      t.batch.erase(column::entries, std::string{k});
      return true;
    });
    if (!r || err) {
      return r ? err : r.error();
    }
    t.batch.put(column::checkpoints, records::queue_handle_key(req.queue),
                records::encode_checkpoint(up_to));
    t.delta(req.queue).checkpoint = up_to;
  }
  if (t.batch.empty()) {
    return ok();
  }
  if (auto w = kv_->write(t.batch, write_mode::lazy); !w) {
    return w;
  }
  t.apply();
  return ok();
}

result<cleanup_result> message_store::cleanup_step(std::int64_t now_ms, std::size_t budget) {
  cleanup_result res;
  if (queues_.empty() || budget == 0) {
    return res;
  }
  txn t{*this};
  std::vector<std::pair<queue_handle, queue_state>> touched; // to undo hints on failure
  std::size_t visited = 0;
  while (res.scanned < budget && visited < queues_.size()) {
    const auto q = cleanup_queue_;
    auto* qs = find(q);
    bool finished = true;
    if (qs && qs->next_expiry <= now_ms) {
      touched.emplace_back(q, *qs);
      auto before = res.expired;
      auto r = cleanup_queue(t, q, now_ms, budget - res.scanned, res);
      if (!r) {
        return r.error();
      }
      finished = *r;
      if (res.expired > before) {
        res.expired_per_queue.emplace_back(q, res.expired - before);
      }
    }
    if (!finished) {
      break;
    }
    cleanup_queue_ = cleanup_queue_ % static_cast<queue_handle>(queues_.size()) + 1;
    ++visited;
  }
  if (!t.batch.empty()) {
    if (auto w = kv_->write(t.batch, write_mode::lazy); !w) {
      for (auto& [q, saved] : touched) {
        auto& qs = *find(q);
        qs.cleanup_cursor = 0;
        qs.next_expiry = std::numeric_limits<std::int64_t>::min(); // rescan next time
      }
      return w.error();
    }
    t.apply();
  }
  return res;
}

result<bool> message_store::cleanup_queue(txn& t, queue_handle q, std::int64_t now_ms,
                                          std::size_t budget, cleanup_result& res) {
  auto& qs = *find(q);
  if (qs.cleanup_cursor == 0) {
    qs.pass_min_expiry = no_expiry; // a new pass over the whole queue
  }
  const auto from = std::max(qs.cleanup_cursor, qs.stats.checkpoint + 1);
  std::size_t scanned = 0;
  sequence last = from;
  bool finished = true;
  std::error_code err;
  const auto begin = records::entry_key(q, from);
  const auto end = records::queue_end_key(q);
  auto r = kv_->scan(column::entries, begin, end, [&](std::string_view k, std::string_view v) {
    if (scanned == budget) {
      finished = false;
      return false;
    }
    auto e = records::decode_entry(v);
    if (!e) {
      err = errc::corrupt_record;
      return false;
    }
    ++scanned;
    last = records::entry_key_seq(k);
    if (records::expired(*e, now_ms)) {
      t.batch.erase(column::entries, std::string{k});
      t.drop_entry(q, *e);
      ++res.expired;
    } else if (e->expires_ms != 0) {
      qs.pass_min_expiry = std::min(qs.pass_min_expiry, e->expires_ms);
    }
    return true;
  });
  res.scanned += scanned;
  if (!r || err) {
    return r ? err : r.error();
  }
  if (finished) {
    qs.cleanup_cursor = 0;
    qs.next_expiry = qs.pass_min_expiry; // appends during the pass were scanned too
  } else {
    qs.cleanup_cursor = last + 1;
  }
  return finished;
}

result<queue_stats> message_store::stats(queue_handle q) const {
  const auto* qs = find(q);
  if (!qs) {
    return errc::unknown_queue;
  }
  return qs->stats;
}

std::vector<std::pair<queue_name, queue_handle>> message_store::queues() const {
  std::vector<std::pair<queue_name, queue_handle>> out;
  for (queue_handle q = 1; q <= queues_.size(); ++q) {
    if (queues_[q - 1].registered) {
      out.emplace_back(queues_[q - 1].name, q);
    }
  }
  return out;
}

} // namespace outpost::storage
