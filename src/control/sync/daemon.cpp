#include "control/sync/daemon.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace fulcrum::control::sync {

namespace {

// Receive buffer: a master's full refresh arrives as a steady stream, but a burst of state
// changes should not be lost while the control thread is busy with a reload.
constexpr int receive_buffer_bytes = 4 << 20;

std::string failure(const char* what, const std::string& ifname)
{
    return fmt::format("sync on {}: {}: {}", ifname, what, std::strerror(errno));
}

sockaddr_in group_address(const SyncConfig& c)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(c.group);
    a.sin_port = htons(c.port);
    return a;
}

// As the kernel's make_send_sock: multicast out of the interface, our own datagrams not looped
// back (a director that is master and backup does not read itself), fragmentation allowed.
int open_sender(const SyncConfig& c, const std::string& ifname, unsigned ifindex, std::string& error)
{
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = failure("socket", ifname);
        return -1;
    }
    ip_mreqn interface{};
    interface.imr_ifindex = static_cast<int>(ifindex);
    const int ttl = c.ttl;
    const int loop = 0;
    const int pmtu = IP_PMTUDISC_DONT;
    const sockaddr_in group = group_address(c);
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof interface) != 0)
        error = failure("IP_MULTICAST_IF", ifname);
    else if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
        error = failure("IP_MULTICAST_TTL", ifname);
    else if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
        error = failure("IP_MULTICAST_LOOP", ifname);
    else if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) != 0)
        error = failure("IP_MTU_DISCOVER", ifname);
    else if (connect(fd, reinterpret_cast<const sockaddr*>(&group), sizeof group) != 0)
        error = failure("connect to the group", ifname);
    if (error.empty()) return fd;
    close(fd);
    return -1;
}

// As the kernel's make_receive_sock: bound to the group and port on that interface only, and a
// member of the group there.
int open_receiver(const SyncConfig& c, const std::string& ifname, unsigned ifindex, std::string& error)
{
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = failure("socket", ifname);
        return -1;
    }
    const int one = 1;
    const int size = receive_buffer_bytes;
    const sockaddr_in group = group_address(c);
    ip_mreqn membership{};
    membership.imr_multiaddr.s_addr = htonl(c.group);
    membership.imr_ifindex = static_cast<int>(ifindex);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        error = failure("SO_REUSEADDR", ifname);
    else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size())) != 0)
        error = failure("SO_BINDTODEVICE", ifname);
    else if (bind(fd, reinterpret_cast<const sockaddr*>(&group), sizeof group) != 0)
        error = failure("bind to the group", ifname);
    else if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) != 0)
        error = failure("IP_ADD_MEMBERSHIP", ifname);
    if (!error.empty()) {
        close(fd);
        return -1;
    }
    // Best effort: the system's rmem_max may cap it.
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return fd;
}

}  // namespace

std::string SyncDaemon::configure(const SyncConfig& config, const std::string& ifname)
{
    if (config == config_ && ifname == ifname_ && sending() == config.master && receiving() == config.backup) return {};
    stop();
    if (!config.enabled()) return {};
    const unsigned ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0) return failure("no such kernel interface", ifname);
    std::string error;
    if (config.master) send_fd_ = open_sender(config, ifname, ifindex, error);
    if (error.empty() && config.backup) receive_fd_ = open_receiver(config, ifname, ifindex, error);
    if (!error.empty()) {
        stop();
        return error;
    }
    config_ = config;
    ifname_ = ifname;
    builder_.emplace(config.syncid, config.max_length);
    receive_buffer_.assign(65536, 0);
    return {};
}

void SyncDaemon::stop()
{
    if (send_fd_ >= 0) {
        send_pending();
        close(send_fd_);
    }
    if (receive_fd_ >= 0) close(receive_fd_);
    send_fd_ = receive_fd_ = -1;
    builder_.reset();
    config_ = SyncConfig{};
    ifname_.clear();
}

void SyncDaemon::send_pending()
{
    if (!builder_ || builder_->empty()) return;
    const auto bytes = builder_->bytes();
    if (send(send_fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
        ++counters_.messages_sent;
        counters_.connections_sent += builder_->records();
    } else {
        ++counters_.send_errors;
    }
    builder_->clear();
}

void SyncDaemon::queue(const SyncRecord& record, Clock::time_point now)
{
    if (!sending()) return;
    if (builder_->empty()) first_queued_ = now;
    if (builder_->add(record)) return;
    send_pending();
    first_queued_ = now;
    builder_->add(record);
}

void SyncDaemon::flush_due(Clock::time_point now)
{
    if (sending() && !builder_->empty() && now - first_queued_ >= flush_interval) send_pending();
}

void SyncDaemon::receive(const Deliver& deliver, unsigned max_datagrams)
{
    if (!receiving()) return;
    for (unsigned i = 0; i < max_datagrams; ++i) {
        const ssize_t n = recv(receive_fd_, receive_buffer_.data(), receive_buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) return;  // EAGAIN: nothing more
        // A datagram longer than any the protocol sends was cut: its size field tells.
        const size_t length = std::min(static_cast<size_t>(n), receive_buffer_.size());
        ++counters_.messages_received;
        decoded_.clear();
        const DecodeResult r = decode_message({receive_buffer_.data(), length}, config_.syncid, decoded_);
        if (r.dropped) ++counters_.refused[static_cast<size_t>(*r.dropped)];
        for (size_t k = 0; k < sync_refusal_count; ++k) counters_.refused[k] += r.skipped[k];
        for (const SyncRecord& record : decoded_) {
            if (deliver(record))
                ++counters_.connections_received;
            else
                ++counters_.delivery_full;
        }
    }
}

}  // namespace fulcrum::control::sync
