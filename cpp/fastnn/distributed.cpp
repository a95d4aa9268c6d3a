// fastnn engine: the MPI gradient-average hook (see distributed.hpp).
#include "distributed.hpp"

#include <chrono>
#include <climits>
#include <sched.h>
#include <stdexcept>
#include <string>

#include "common.hpp"

namespace fastnn {

namespace {

// MPI_Iallreduce(sendbuf, recvbuf, count, datatype, op, comm, request) and MPI_Test(request, flag, status) with the
// handles passed as H (std::int32_t for MPICH, std::intptr_t for pointer handles).
template <class H>
int call_iallreduce(const MpiAllreduceSpec& s, void* buf, int count, void* request) {
    using F = int (*)(const void*, void*, int, H, H, H, void*);
    return reinterpret_cast<F>(s.iallreduce)(reinterpret_cast<const void*>(s.in_place), buf, count, H(s.datatype),
                                             H(s.op), H(s.comm), request);
}

int call_test(const MpiAllreduceSpec& s, void* request, int* flag, void* status) {
    using F = int (*)(void*, int*, void*);
    return reinterpret_cast<F>(s.test)(request, flag, status);
}

void check_rc(int rc, const char* what) {
    if (rc != 0)
        throw std::runtime_error(std::string("distributed training: ") + what + " failed with MPI error code " +
                                 std::to_string(rc) + " (a process of the job has probably failed)");
}

template <class T>
void average(const MpiAllreduceSpec& s, T* buf, std::size_t n) {
    if (n == 0) return;
    if (n > std::size_t(INT_MAX)) fail("gradient buffer", "at most 2^31 - 1 values", std::to_string(n));
    alignas(16) unsigned char request[16] = {};
    alignas(16) unsigned char status[256] = {};  // larger than any MPI_Status
    const int count = int(n);
    check_rc(s.handle_size == 4 ? call_iallreduce<std::int32_t>(s, buf, count, request)
                                : call_iallreduce<std::intptr_t>(s, buf, count, request),
             "MPI_Iallreduce");
    const auto t0 = std::chrono::steady_clock::now();
    for (long polls = 0;; ++polls) {
        int flag = 0;
        check_rc(call_test(s, request, &flag, status), "MPI_Test");
        if (flag) break;
        if (polls > 1000) sched_yield();  // let a slower rank on the same core catch up
        if (s.timeout > 0 && (polls & 255) == 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > s.timeout)
            throw std::runtime_error("distributed training: the gradient allreduce waited more than " +
                                     std::to_string(s.timeout) +
                                     " s for the other processes (one has stopped, crashed or hangs); "
                                     "this process stops too");
    }
    const T scale = T(1) / T(s.size);
    for (std::size_t i = 0; i < n; ++i) buf[i] *= scale;
}

}  // namespace

template <class T>
std::function<void(T*, std::size_t)> mpi_average_hook(const MpiAllreduceSpec& spec) {
    if (!spec.iallreduce || !spec.test) fail("MPI function addresses", "non-zero addresses", "0");
    if (spec.handle_size != 4 && spec.handle_size != int(sizeof(std::intptr_t)))
        fail("MPI handle size", "4 or " + std::to_string(sizeof(std::intptr_t)) + " bytes",
             std::to_string(spec.handle_size));
    if (spec.size < 1) fail("communicator size", "an integer >= 1", std::to_string(spec.size));
    if (!(spec.timeout == spec.timeout)) fail("timeout", "a number of seconds", "NaN");
    return [spec](T* g, std::size_t n) { average(spec, g, n); };
}

template <class T>
void mpi_average(const MpiAllreduceSpec& spec, T* buf, std::size_t n) {
    mpi_average_hook<T>(spec)(buf, n);
}

template std::function<void(float*, std::size_t)> mpi_average_hook<float>(const MpiAllreduceSpec&);
template std::function<void(double*, std::size_t)> mpi_average_hook<double>(const MpiAllreduceSpec&);
template void mpi_average<float>(const MpiAllreduceSpec&, float*, std::size_t);
template void mpi_average<double>(const MpiAllreduceSpec&, double*, std::size_t);

}  // namespace fastnn
