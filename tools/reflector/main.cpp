// outpost-reflector: the floor under a durable MQTT broker on this machine (issue 9).
//
// One thread, one epoll loop, no actors, no routes, no identities: it accepts any CONNECT,
// grants QoS 1 subscriptions, and for every QoS 1 PUBLISH makes the message durable, then
// PUBACKs it and forwards it to every matching subscriber. What it spends per message is what
// any durable broker must spend here (reads, writes, the disk's sync), so the gap between it and
// outpostd is what Outpost's own design costs, and the gap between it and mosquitto is what
// durability costs.
//
//   outpost-reflector --port P --store file|rocksdb|none --dir D [--sync-thread]
//
// Durability is group commit per loop pass: every PUBLISH read in one epoll_wait pass is
// appended, then one sync covers them all, then their PUBACKs and forwards are written, one
// write() per socket. `file` appends to one log file and fdatasyncs it (the disk's floor);
// `rocksdb` writes one batch through Outpost's own storage adapter (storage/rocksdb, the same
// options as outpostd with durability fsync) and erases each entry when the subscriber acks it,
// unsynced, as outpostd does (the engine's floor); `none` syncs nothing (a non-durable broker).
// With `--sync-thread` the sync runs on a thread of its own, as in outpostd (whose durable
// writes must stay off the I/O threads: a detached writer actor): the loop hands each pass's
// batch over (mutex + condition variable) and goes on; the writer hands finished batches back
// through an eventfd, and their PUBACKs and forwards go out in the loop's next pass. That is
// the floor for Outpost's shape: two hand-offs per commit.

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/mqtt/topic.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace outpost;

constexpr std::size_t max_frame = 1 << 20;
volatile std::sig_atomic_t stop_requested = 0;

struct client {
  int fd = -1;
  std::string in;  ///< bytes of an incomplete frame
  std::string out; ///< bytes for the socket, written once per pass
  std::vector<std::string> filters;
  std::uint16_t next_id = 0;
  bool want_write = false;
};

/// A QoS 1 PUBLISH waiting for the pass's sync.
struct pending {
  int publisher;
  std::uint16_t packet_id;
  std::string topic;
  std::string payload;
};

class store {
public:
  virtual ~store() = default;
  virtual bool append(const std::vector<pending>& batch) = 0; ///< durable when it returns
  virtual void acked(std::size_t) {}
};

class file_store final : public store {
public:
  explicit file_store(const std::string& path)
      : fd_(::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_APPEND | O_CLOEXEC, 0600)) {}
  ~file_store() override {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  bool ok() const { return fd_ >= 0; }
  bool append(const std::vector<pending>& batch) override {
    buf_.clear();
    for (const auto& p : batch) {
      const std::uint32_t n = static_cast<std::uint32_t>(p.topic.size() + p.payload.size());
      buf_.append(reinterpret_cast<const char*>(&n), sizeof n).append(p.topic).append(p.payload);
    }
    return ::write(fd_, buf_.data(), buf_.size()) == static_cast<ssize_t>(buf_.size())
           && ::fdatasync(fd_) == 0;
  }

private:
  int fd_;
  std::string buf_;
};

class rocksdb_store final : public store {
public:
  explicit rocksdb_store(std::unique_ptr<storage::rocksdb_kv_store> kv) : kv_(std::move(kv)) {}
  bool append(const std::vector<pending>& batch) override {
    storage::write_batch b;
    for (const auto& p : batch) {
      b.put(storage::column::entries, key(next_++), p.topic + p.payload);
    }
    return kv_->write(b, storage::write_mode::durable).has_value();
  }
  /// Acknowledgements erase in delivery order, unsynced (the next durable write covers them).
  void acked(std::size_t n) override {
    storage::write_batch b;
    for (std::size_t i = 0; i < n; ++i) {
      b.erase(storage::column::entries, key(acked_++));
    }
    (void)kv_->write(b, storage::write_mode::lazy);
  }

private:
  static std::string key(std::uint64_t seq) {
    std::string k(8, '\0');
    for (int i = 7; i >= 0; --i, seq >>= 8) {
      k[static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xff);
    }
    return k;
  }
  std::unique_ptr<storage::rocksdb_kv_store> kv_;
  std::uint64_t next_ = 0;
  std::uint64_t acked_ = 0;
};

class reflector {
public:
  reflector(int listen_fd, std::unique_ptr<store> s, bool sync_thread)
      : lfd_(listen_fd),
        store_(std::move(s)) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    add(lfd_, EPOLLIN);
    if (sync_thread && store_) {
      done_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      add(done_fd_, EPOLLIN);
      writer_ = std::thread([this] { write_loop(); });
    }
  }

  ~reflector() {
    if (writer_.joinable()) {
      {
        std::lock_guard<std::mutex> lock{mutex_};
        stopping_ = true;
      }
      wake_.notify_one();
      writer_.join();
    }
  }

  int run() {
    epoll_event evs[512];
    while (!stop_requested) {
      const int n = ::epoll_wait(ep_, evs, 512, 200);
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = evs[i].data.fd;
        if (fd == lfd_) {
          accept_all();
          continue;
        }
        if (fd == done_fd_) {
          std::uint64_t n = 0;
          [[maybe_unused]] auto r = ::read(done_fd_, &n, sizeof n);
          answer_synced();
          continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          read_from(fd);
        }
        if ((evs[i].events & EPOLLOUT) && clients_.count(fd)) {
          dirty_.push_back(fd);
        }
      }
      commit();
      flush();
    }
    return 0;
  }

private:
  void add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        return;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      clients_[fd].fd = fd;
      add(fd, EPOLLIN);
    }
  }

  void close_client(int fd) {
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    clients_.erase(fd);
  }

  void read_from(int fd) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) {
      return;
    }
    client& c = it->second;
    for (;;) {
      const ssize_t got = ::read(fd, rbuf_, sizeof rbuf_);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close_client(fd);
        return;
      }
      if (got < 0) {
        break;
      }
      c.in.append(rbuf_, static_cast<std::size_t>(got));
      if (static_cast<std::size_t>(got) < sizeof rbuf_) {
        break;
      }
    }
    std::string_view rest = c.in;
    while (!rest.empty()) {
      auto split = mqtt::split_frame(rest, max_frame);
      if (!split) {
        close_client(fd);
        return;
      }
      if (split->frame_size == 0) {
        break;
      }
      auto p = mqtt::decode(rest.substr(0, split->frame_size));
      rest.remove_prefix(split->frame_size);
      if (!p || !handle(c, std::move(*p))) {
        close_client(fd);
        return;
      }
    }
    c.in.erase(0, c.in.size() - rest.size());
  }

  bool handle(client& c, mqtt::packet&& p) {
    if (auto* pub = std::get_if<mqtt::publish>(&p)) {
      if (pub->qos == 0) {
        forward(pub->topic, pub->payload);
      } else {
        batch_.push_back({c.fd, pub->packet_id, std::move(pub->topic), std::move(pub->payload)});
      }
    } else if (std::holds_alternative<mqtt::puback>(p)) {
      ++acks_;
    } else if (std::holds_alternative<mqtt::connect>(p)) {
      respond(c, mqtt::connack{});
    } else if (auto* sub = std::get_if<mqtt::subscribe>(&p)) {
      mqtt::suback ack;
      ack.packet_id = sub->packet_id;
      for (const auto& [filter, qos] : sub->filters) {
        c.filters.push_back(filter);
        ack.return_codes.push_back(qos > 0 ? 1 : 0);
      }
      if (std::find(subscribers_.begin(), subscribers_.end(), c.fd) == subscribers_.end()) {
        subscribers_.push_back(c.fd);
      }
      respond(c, ack);
    } else if (std::holds_alternative<mqtt::pingreq>(p)) {
      respond(c, mqtt::pingresp{});
    } else if (std::holds_alternative<mqtt::disconnect>(p)) {
      return false;
    }
    return true;
  }

  template <class Packet>
  void respond(client& c, const Packet& p) {
    mqtt::encode(p, c.out);
    dirty_.push_back(c.fd);
  }

  void forward(const std::string& topic, const std::string& payload) {
    for (const int fd : subscribers_) {
      auto it = clients_.find(fd);
      if (it == clients_.end()) {
        continue;
      }
      client& s = it->second;
      for (const auto& f : s.filters) {
        if (mqtt::topic_matches(f, topic)) {
          mqtt::publish out;
          out.qos = 1;
          out.topic = topic;
          out.payload = payload;
          out.packet_id = s.next_id = static_cast<std::uint16_t>(s.next_id % 65535 + 1);
          respond(s, out);
          break;
        }
      }
    }
  }

  /// One sync for the whole pass, then the PUBACKs and the forwards.
  void commit() {
    if (acks_ > 0) {
      if (store_) {
        store_->acked(acks_);
      }
      acks_ = 0;
    }
    if (batch_.empty()) {
      return;
    }
    if (writer_.joinable()) {
      bool idle = false;
      {
        std::lock_guard<std::mutex> lock{mutex_};
        idle = to_sync_.empty();
        to_sync_.push_back(std::move(batch_));
      }
      batch_.clear();
      if (idle) {
        wake_.notify_one();
      }
      return;
    }
    if (store_ && !store_->append(batch_)) {
      std::fprintf(stderr, "outpost-reflector: the store refused a batch\n");
      stop_requested = 1;
      return;
    }
    for (auto& p : batch_) {
      if (auto it = clients_.find(p.publisher); it != clients_.end()) {
        respond(it->second, mqtt::puback{p.packet_id});
      }
      forward(p.topic, p.payload);
    }
    batch_.clear();
  }

  /// The writer thread: syncs every batch handed over so far with one append, then hands
  /// them back.
  void write_loop() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !to_sync_.empty(); });
      if (stopping_) {
        return;
      }
      std::deque<std::vector<pending>> batches;
      batches.swap(to_sync_);
      lock.unlock();
      std::vector<pending> all;
      for (auto& b : batches) {
        std::move(b.begin(), b.end(), std::back_inserter(all));
      }
      const bool ok = store_->append(all);
      lock.lock();
      if (!ok) {
        std::fprintf(stderr, "outpost-reflector: the store refused a batch\n");
        stop_requested = 1;
      }
      synced_.push_back(std::move(all));
      const std::uint64_t one = 1;
      [[maybe_unused]] auto r = ::write(done_fd_, &one, sizeof one);
    }
  }

  /// PUBACKs and forwards of what the writer made durable.
  void answer_synced() {
    std::deque<std::vector<pending>> done;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      done.swap(synced_);
    }
    for (auto& batch : done) {
      for (auto& p : batch) {
        if (auto it = clients_.find(p.publisher); it != clients_.end()) {
          respond(it->second, mqtt::puback{p.packet_id});
        }
        forward(p.topic, p.payload);
      }
    }
  }

  void flush() {
    for (const int fd : dirty_) {
      auto it = clients_.find(fd);
      if (it == clients_.end() || it->second.out.empty()) {
        continue;
      }
      client& c = it->second;
      const ssize_t put = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (put < 0 && errno != EAGAIN && errno != EINTR) {
        close_client(fd);
        continue;
      }
      c.out.erase(0, put > 0 ? static_cast<std::size_t>(put) : 0);
      const bool want = !c.out.empty();
      if (want != c.want_write) {
        c.want_write = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.fd = fd;
        ::epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
      }
    }
    dirty_.clear();
  }

  int lfd_;
  int ep_ = -1;
  std::unique_ptr<store> store_;
  std::unordered_map<int, client> clients_;
  std::vector<int> subscribers_;
  std::vector<pending> batch_;
  std::vector<int> dirty_;
  std::size_t acks_ = 0;
  char rbuf_[64 * 1024];
  // --sync-thread: batches to sync, batches synced, and the writer.
  int done_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::vector<pending>> to_sync_;
  std::deque<std::vector<pending>> synced_;
  bool stopping_ = false;
  std::thread writer_;
};

int listen_on(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("outpost-reflector: bind/listen");
    return -1;
  }
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"outpost-reflector: a minimal durable MQTT reflector, the floor for benchmarks"};
  std::uint16_t port = 1883;
  std::string kind = "file";
  std::string dir = "/tmp/outpost-reflector";
  app.add_option("--port", port, "TCP port on 127.0.0.1");
  app.add_option("--store", kind, "file (append + fdatasync), rocksdb (Outpost's adapter), none")
      ->check(CLI::IsMember({"file", "rocksdb", "none"}));
  app.add_option("--dir", dir, "folder for the log file or the database");
  bool sync_thread = false;
  app.add_flag("--sync-thread", sync_thread,
               "sync on a writer thread of its own, as outpostd does (two hand-offs per commit)");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  ::mkdir(dir.c_str(), 0700);
  std::unique_ptr<store> s;
  if (kind == "file") {
    auto f = std::make_unique<file_store>(dir + "/reflector.log");
    if (!f->ok()) {
      std::perror("outpost-reflector: open");
      return 2;
    }
    s = std::move(f);
  } else if (kind == "rocksdb") {
    storage::rocksdb_options o;
    o.path = dir + "/db";
    o.sync = true;
    std::string why;
    auto kv = storage::rocksdb_kv_store::open(o, why);
    if (!kv) {
      std::fprintf(stderr, "outpost-reflector: %s\n", why.c_str());
      return 2;
    }
    s = std::make_unique<rocksdb_store>(std::move(*kv));
  }
  const int lfd = listen_on(port);
  if (lfd < 0) {
    return 2;
  }
  return reflector(lfd, std::move(s), sync_thread).run();
}
