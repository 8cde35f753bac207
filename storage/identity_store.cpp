#include "storage/identity_store.hpp"

#include "protocols/common/big_endian.hpp"
#include "storage/errc.hpp"
#include "storage/twin_store.hpp"

namespace outpost::storage {

namespace {

constexpr char format_version = 2; ///< 1: before the edge capability and the parent

void put_string(std::string& out, std::string_view s) {
  put_be32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

bool get_string(std::string_view in, std::size_t& pos, std::string& out) {
  if (in.size() - pos < 4) {
    return false;
  }
  const auto n = get_be32(in, pos);
  pos += 4;
  if (in.size() - pos < n) {
    return false;
  }
  out.assign(in.substr(pos, n));
  pos += n;
  return true;
}

bool id_char(char c) {
  static constexpr std::string_view extra = "-.%_*?!(),:=@$'";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || extra.find(c) != std::string_view::npos;
}

} // namespace

bool valid_identity_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    if (!id_char(c)) {
      return false;
    }
  }
  return true;
}

// Layout (version 2): version, u8 auth, u8 enabled, be64 created, u8 edge_enabled, then
// strings device, module, primary, secondary, parent (be32 length + bytes each). Version 1
// records (no edge flag, no parent) still decode.
std::string encode_identity(const identity& i) {
  std::string out;
  out.push_back(format_version);
  out.push_back(static_cast<char>(i.auth));
  out.push_back(i.enabled ? 1 : 0);
  put_be64(out, static_cast<std::uint64_t>(i.created_ms));
  out.push_back(i.edge_enabled ? 1 : 0);
  for (const auto* s : {&i.device_id, &i.module_id, &i.primary, &i.secondary, &i.parent}) {
    put_string(out, *s);
  }
  return out;
}

result<identity> decode_identity(std::string_view in) {
  const bool v1 = !in.empty() && in[0] == 1;
  const std::size_t fixed = v1 ? 11 : 12;
  if (in.size() < fixed || (in[0] != format_version && !v1) || static_cast<std::uint8_t>(in[1]) > 2
      || static_cast<std::uint8_t>(in[2]) > 1 || (!v1 && static_cast<std::uint8_t>(in[11]) > 1)) {
    return errc::corrupt_record;
  }
  identity i;
  i.auth = static_cast<auth_type>(in[1]);
  i.enabled = in[2] == 1;
  i.created_ms = static_cast<std::int64_t>(get_be64(in, 3));
  i.edge_enabled = !v1 && in[11] == 1;
  std::size_t pos = fixed;
  for (auto* s : {&i.device_id, &i.module_id, &i.primary, &i.secondary}) {
    if (!get_string(in, pos, *s)) {
      return errc::corrupt_record;
    }
  }
  if (!v1 && !get_string(in, pos, i.parent)) {
    return errc::corrupt_record;
  }
  if (pos != in.size() || i.device_id.empty()) {
    return errc::corrupt_record;
  }
  return i;
}

namespace {

bool valid_thumbprint(std::string_view t) {
  if (t.size() != 64 && t.size() != 40) { // SHA-256 (or legacy SHA-1), hex
    return false;
  }
  return t.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

} // namespace

result<identity> make_identity(const identity_request& req, const identity_store& store,
                               std::string_view edge_device_id,
                               std::pair<std::string, std::string> keys, std::int64_t now_ms) {
  identity i;
  const auto slash = req.id.find('/');
  if (req.module) {
    i.device_id =
        slash == std::string::npos ? std::string{edge_device_id} : req.id.substr(0, slash);
    i.module_id = slash == std::string::npos ? req.id : req.id.substr(slash + 1);
  } else {
    i.device_id = req.id;
  }
  if (!valid_identity_id(i.device_id) || (req.module && !valid_identity_id(i.module_id))) {
    return errc::invalid_identity;
  }
  if (req.module && i.device_id != edge_device_id && !store.find(i.device_id)) {
    return errc::identity_not_found;
  }
  if (store.find(i.id())) {
    return errc::identity_exists;
  }
  if (req.module && (req.edge_enabled || !req.parent.empty())) {
    return errc::invalid_identity; // modules are in their device's scope, and not edges
  }
  if (!req.parent.empty()) {
    // A device goes into an edge device's scope: the parent must be one (or this edge).
    const auto* parent = store.find(req.parent);
    if (req.parent != edge_device_id && parent == nullptr) {
      return errc::identity_not_found;
    }
    if (req.parent != edge_device_id && !parent->edge_enabled) {
      return errc::invalid_identity;
    }
    i.parent = req.parent;
  }
  i.edge_enabled = req.edge_enabled;
  i.auth = req.auth;
  switch (req.auth) {
    case auth_type::sas: // the request's own keys (the service API's), else fresh ones
      i.primary = req.primary.empty() ? std::move(keys.first) : req.primary;
      i.secondary = req.secondary.empty() ? std::move(keys.second) : req.secondary;
      break;
    case auth_type::x509_thumbprint:
      if (!valid_thumbprint(req.primary)
          || (!req.secondary.empty() && !valid_thumbprint(req.secondary))) {
        return errc::invalid_identity;
      }
      i.primary = req.primary;
      i.secondary = req.secondary;
      break;
    case auth_type::x509_ca:
      break;
  }
  i.created_ms = now_ms;
  return i;
}

result<identity_store> identity_store::open(kv_store& kv, batch_writer write) {
  if (!write) {
    write = [&kv](const write_batch& b) {
      return kv.write(b, write_mode::durable);
    };
  }
  identity_store s{std::move(write)};
  std::error_code err;
  auto r = kv.scan(column::identities, {}, {}, [&](std::string_view k, std::string_view v) {
    auto i = decode_identity(v);
    if (!i || i->id() != k) {
      err = errc::corrupt_record;
      return false;
    }
    s.by_id_->emplace(std::string{k}, std::move(*i));
    return true;
  });
  if (!r) {
    return r.error();
  }
  if (err) {
    return err;
  }
  return s;
}

result<void> identity_store::put(const identity& i) {
  write_batch b;
  b.put(column::identities, i.id(), encode_identity(i));
  if (auto r = write_(b); !r) {
    return r;
  }
  writable().insert_or_assign(i.id(), i);
  return ok();
}

identity_store::table& identity_store::writable() {
  // Only the store hands the table out (`shared`), so a count of 1 cannot grow behind this
  // check: a reader dropping its copy meanwhile costs at most one needless copy.
  if (by_id_.use_count() > 1) {
    by_id_ = std::make_shared<table>(*by_id_);
  }
  return *by_id_;
}

result<std::size_t> identity_store::remove(std::string_view id) {
  const auto& current = *by_id_;
  auto i = current.find(id);
  if (i == current.end()) {
    return std::size_t{0};
  }
  std::vector<std::string> gone{std::string{id}};
  if (i->second.module_id.empty()) {
    const std::string prefix = std::string{id} + "/";
    for (auto m = current.lower_bound(prefix); m != current.end() && m->first.rfind(prefix, 0) == 0;
         ++m) {
      gone.push_back(m->first);
    }
  }
  write_batch b;
  for (const auto& g : gone) {
    b.erase(column::identities, g);
    twin_store::erase(b, g); // its twin goes with it, in the same atomic batch
  }
  if (auto r = write_(b); !r) {
    return r.error();
  }
  auto& t = writable();
  for (const auto& g : gone) {
    t.erase(g);
  }
  return gone.size();
}

const identity* identity_store::find(std::string_view id) const {
  auto i = by_id_->find(id);
  return i == by_id_->end() ? nullptr : &i->second;
}

std::vector<identity> identity_store::list() const {
  std::vector<identity> out;
  out.reserve(by_id_->size());
  for (const auto& [id, i] : *by_id_) {
    out.push_back(i);
  }
  return out;
}

} // namespace outpost::storage
