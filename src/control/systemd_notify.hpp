// sd_notify(3) without libsystemd: a unit with Type=notify learns from these datagrams when the
// director is ready (the workers forward and the console answers), when a reload starts and ends
// (systemd 252 has no Type=notify-reload, but shows RELOADING=1 in `systemctl status`), and when
// it stops. Nothing happens unless systemd (or a test) set NOTIFY_SOCKET.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fulcrum::control {

// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET, a path
// or, with a leading '@', an abstract socket. Returns false when there is none or it failed.
inline bool notify_systemd(std::string_view state)
{
    const char* where = std::getenv("NOTIFY_SOCKET");
    if (!where || !*where) return false;
    const std::string_view path = where;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return false;
    path.copy(sa.sun_path, path.size());
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    const bool sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&sa),
                               length) == static_cast<ssize_t>(state.size());
    ::close(fd);
    return sent;
}

// RELOADING=1 with the time systemd asks for alongside it (CLOCK_MONOTONIC, microseconds).
inline bool notify_systemd_reloading()
{
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const unsigned long long usec =
        static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    return notify_systemd("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace fulcrum::control
