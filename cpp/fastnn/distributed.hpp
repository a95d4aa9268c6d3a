// fastnn engine: the gradient hook of data-parallel training, an average of the flat gradient buffer over the
// processes of an MPI communicator (Horovod's DistributedOptimizer), called between backward and update.
//
// The engine does not link MPI. The Python side (fastnn/distributed.py) takes the addresses of MPI_Iallreduce and
// MPI_Test from the MPI library that mpi4py loaded, and the values of the handles (communicator, datatype, MPI_SUM,
// MPI_IN_PLACE), and passes them here as integers. Handles are ints in MPICH (and its derivatives) and pointers in
// Open MPI and the MPI-5 ABI: handle_size (4 or 8) says which, and the calls are made through the matching
// function-pointer type. The hook polls MPI_Test, so it can give up after a timeout instead of hanging when a peer
// is gone; it then throws, and the caller must abort the job (the collective is left pending).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace fastnn {

struct MpiAllreduceSpec {
    std::uintptr_t iallreduce = 0;  // address of MPI_Iallreduce
    std::uintptr_t test = 0;        // address of MPI_Test
    std::intptr_t comm = 0, datatype = 0, op = 0, in_place = 0;  // handle values (MPI_IN_PLACE as an address)
    int handle_size = 4;   // sizeof(MPI_Comm) == sizeof(MPI_Datatype) == sizeof(MPI_Op) == sizeof(MPI_Request)
    int size = 1;          // processes in comm: the sum is divided by it
    double timeout = 0;    // seconds a step may wait for the others; <= 0: no limit
};

// Checks the spec (std::invalid_argument) and returns a hook that replaces grads[0..n) by their average over the
// communicator; it throws std::runtime_error when MPI reports an error or the timeout passes.
template <class T>
std::function<void(T*, std::size_t)> mpi_average_hook(const MpiAllreduceSpec& spec);

// One in-place average of buf[0..n) through the spec (the same call the hook makes); for tests and timings.
template <class T>
void mpi_average(const MpiAllreduceSpec& spec, T* buf, std::size_t n);

}  // namespace fastnn
