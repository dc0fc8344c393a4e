// EAL for the dataplane tests: no hugepages, no PCI, no shared runtime directory, one lcore.
#include <gtest/gtest.h>
#include <rte_eal.h>

namespace {

class EalEnvironment : public ::testing::Environment {
public:
    void SetUp() override
    {
        const char* args[] = {"test_dataplane", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                              "--lcores", "0@0", "--log-level", "error"};
        int argc = static_cast<int>(sizeof args / sizeof args[0]);
        ASSERT_GE(rte_eal_init(argc, const_cast<char**>(args)), 0) << "rte_eal_init failed";
    }
    void TearDown() override { rte_eal_cleanup(); }
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

}  // namespace
