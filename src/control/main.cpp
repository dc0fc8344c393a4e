// fulcrum: options, configuration, EAL, signals, and the control loop on the main lcore.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <sched.h>
#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "control/director/director.hpp"
#include "control/import/import.hpp"
#include "control/log.hpp"
#include "control/systemd_notify.hpp"
#include "dataplane/port.hpp"

namespace po = boost::program_options;
using namespace fulcrum;

namespace {

constexpr const char* version = "0.1.0";

control::ControlSignals signals_seen;

extern "C" void on_stop_signal(int) { signals_seen.stop.store(true); }
extern "C" void on_reload_signal(int) { signals_seen.reload.store(true); }

void install_signal_handlers()
{
    struct sigaction action{};
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop_signal;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    action.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &action, nullptr);
}

std::vector<unsigned> usable_cpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (unsigned c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

bool names_devices_itself(const std::vector<std::string>& args)
{
    for (const std::string& a : args)
        if (a == "-a" || a.rfind("--allow", 0) == 0 || a == "-b" || a.rfind("--block", 0) == 0 ||
            a == "--no-pci")
            return true;
    return false;
}

// Generated arguments first, then dataplane.eal, then what followed "--", so the operator's
// own arguments win.
std::vector<std::string> eal_arguments(const control::Config& config, const std::vector<std::string>& extra)
{
    std::vector<std::string> args{"fulcrum"};
    // The main lcore plus one per worker. More lcores than CPUs share CPUs round-robin
    // (workers back off when idle, so a small box still works).
    const std::vector<unsigned> cpus = usable_cpus();
    std::string lcores;
    for (unsigned lcore = 0; lcore <= config.dataplane.workers; ++lcore) {
        if (!lcores.empty()) lcores += ',';
        lcores += std::to_string(lcore) + "@" + std::to_string(cpus[lcore % cpus.size()]);
    }
    args.insert(args.end(), {"--lcores", lcores});
    bool any_pci = false;
    std::set<std::string> named;  // the VLANs of one device name it once
    for (const control::InterfaceConfig& iface : config.interfaces) {
        if (!named.insert(iface.device).second) continue;
        if (dataplane::is_pci_address(iface.device)) {
            args.insert(args.end(), {"-a", iface.device});
            any_pci = true;
        } else {
            args.insert(args.end(), {"--vdev", iface.device});
        }
    }
    if (!any_pci && !names_devices_itself(config.dataplane.eal) && !names_devices_itself(extra))
        args.push_back("--no-pci");
    args.insert(args.end(), config.dataplane.eal.begin(), config.dataplane.eal.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

void print_errors(const std::vector<control::ConfigError>& errors)
{
    for (const control::ConfigError& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

// fulcrum import KIND FILE: the services of another director's configuration, as YAML on stdout
// (docs/migration.md). 0 written, 1 refused (FILE:LINE:COLUMN: ... on stderr), 2 usage.
int run_import(int argc, char** argv)
{
    const control::migration::ImportKind* kind = argc == 4 ? control::migration::find_import_kind(argv[2]) : nullptr;
    if (kind == nullptr) {
        if (argc == 4) std::fprintf(stderr, "fulcrum import: unknown kind \"%s\"\n", argv[2]);
        std::fprintf(stderr, "Usage: fulcrum import KIND FILE\nKINDs:\n");
        for (const control::migration::ImportKind& k : control::migration::import_kinds())
            std::fprintf(stderr, "  %-12s %.*s\n", std::string(k.name).c_str(), static_cast<int>(k.description.size()),
                         k.description.data());
        return 2;
    }
    const control::migration::ImportResult result = control::migration::import_file(*kind, argv[3]);
    if (!result.errors.empty()) {
        print_errors(result.errors);
        return 1;
    }
    std::fputs(result.yaml.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv)
{
    // A command of its own, before any EAL or --config handling.
    if (argc >= 2 && std::string(argv[1]) == "import") return run_import(argc, argv);

    po::options_description options(
        "Usage: fulcrum --config FILE [--check] [-- EAL arguments]\n       fulcrum import KIND FILE\nOptions");
    options.add_options()
        ("config,c", po::value<std::string>(), "configuration file (YAML)")
        ("check", "validate the configuration file and exit: 0 if valid, 1 if not")
        ("log-level", po::value<std::string>()->default_value("info"), "debug, info, warning or error")
        ("help,h", "show this help and exit")
        ("version,V", "show the version and exit");

    // Everything after "--" belongs to EAL.
    std::vector<std::string> eal_extra;
    int own_argc = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--") {
            own_argc = i;
            eal_extra.assign(argv + i + 1, argv + argc);
            break;
        }
    }

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(own_argc, argv).options(options).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "fulcrum: %s\n%s", e.what(), "Try 'fulcrum --help'.\n");
        return 2;
    }
    if (vm.count("help")) {
        std::cout << options << "\nArguments after \"--\" go to DPDK's EAL, after dataplane.eal.\n";
        return 0;
    }
    if (vm.count("version")) {
        std::printf("fulcrum %s (DPDK 22.11)\n", version);
        return 0;
    }
    const std::string level = vm["log-level"].as<std::string>();
    if (level == "debug") log::set_level(log::Level::debug);
    else if (level == "info") log::set_level(log::Level::info);
    else if (level == "warning") log::set_level(log::Level::warning);
    else if (level == "error") log::set_level(log::Level::error);
    else {
        std::fprintf(stderr, "fulcrum: --log-level: expected debug, info, warning or error, found \"%s\"\n", level.c_str());
        return 2;
    }
    if (!vm.count("config")) {
        std::fprintf(stderr, "fulcrum: --config FILE is required\nTry 'fulcrum --help'.\n");
        return 2;
    }

    const std::string config_path = vm["config"].as<std::string>();
    control::ConfigResult loaded = control::load_config_file(config_path);
    if (vm.count("check")) {
        print_errors(loaded.errors);
        if (!loaded.config) {
            std::fprintf(stderr, "%s: %zu problem(s) found\n", config_path.c_str(), loaded.errors.size());
            return 1;
        }
        std::printf("%s: configuration is valid\n", config_path.c_str());
        return 0;
    }
    if (!loaded.config) {
        print_errors(loaded.errors);
        log::error("{}: {} problem(s); not starting", config_path, loaded.errors.size());
        return 1;
    }
    const control::Config& config = *loaded.config;

    log::capture_dpdk_log();
    std::vector<std::string> eal_args = eal_arguments(config, eal_extra);
    log::info("EAL arguments: {}", fmt::join(eal_args, " "));
    std::vector<char*> eal_argv;
    for (std::string& a : eal_args) eal_argv.push_back(a.data());
    eal_argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(eal_args.size()), eal_argv.data()) < 0) {
        log::error("EAL initialisation failed: {}", rte_strerror(rte_errno));
        return 1;
    }
    install_signal_handlers();
    // dpdk-dumpcap and dpdk-pdump capture a port's traffic from a secondary process; they need
    // EAL's shared memory, which --no-huge, --in-memory and --no-shconf leave out.
    const bool capture = rte_pdump_init() == 0;
    if (capture)
        log::info("packet capture ready: dpdk-dumpcap --file-prefix=PREFIX -i PORT (docs/fulcrumadm.md)");
    else
        log::info("packet capture unavailable: {} (dpdk-dumpcap needs hugepages and EAL's shared memory)",
                  rte_strerror(rte_errno));

    int status = 0;
    {
        control::Director director;
        if (auto e = director.start(config, config_path); !e.empty()) {
            log::error("start-up failed: {}", e);
            status = 1;
        } else {
            log::info("fulcrum {} running with {} from {}", version, fmt::format("{} worker(s)", config.dataplane.workers), config_path);
            control::notify_systemd("READY=1");
            director.run(signals_seen);
            control::notify_systemd("STOPPING=1");
            log::info("stopping");
        }
        director.stop();
    }
    if (capture) rte_pdump_uninit();
    rte_eal_cleanup();
    return status;
}
