// Sending on the control plane's non-blocking sockets (console, metrics, health checks): none
// of them may wait for a peer.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

namespace fulcrum::control {

// Sends what is left of `data` after `sent` bytes, as far as the socket takes it now, and
// advances `sent`. Returns 0 when everything is sent or the socket would block, else the errno
// that ended the connection (EPIPE for a send that took nothing).
inline int send_pending(int fd, std::string_view data, size_t& sent)
{
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return n < 0 ? errno : EPIPE;
        }
    }
    return 0;
}

}  // namespace fulcrum::control
