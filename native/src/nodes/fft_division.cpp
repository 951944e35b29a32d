// fft_division - deconvolution by STFT spectral division: the output x solves x * b = a, where b is
// the first 2·hop samples of input `b` (the divisor's impulse response) and a is input `a`.
//
// Frames: N = 4·hop point FFTs of 2·hop samples of `a` under a periodic Hann window, one frame every
// hop samples, the first one starting hop samples before the stream (so the windows sum to one from
// the first sample on). Each frame's spectrum is multiplied by conj(B) / (|B|² + λ·max|B|²), the
// regularised inverse of the divisor's spectrum B, and its inverse FFT is added back (overlap-add,
// no synthesis window): the last quarter of each result is taken as times before the frame, which
// leaves room for divisors whose inverse reaches backwards in time (non-minimum phase). The
// divisor is known once 2·hop samples of `b` have arrived; the output is late by exactly the FFT
// size, N = 4·hop samples: out[n] = x[n - 4·hop]. (N - 1 would be the least that works.)
//
// The FFT is Eigen's (unsupported/Eigen/FFT, kissfft inside). Its plans and work buffers are made
// at create by running one transform each way, so process() never allocates.
#include "../amp_node.h"

#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <new>
#include <vector>

namespace {

using Complex = std::complex<double>;

struct FftDivisionState {
    int32_t batch = 0;
    int32_t channels = 0;
    int32_t hop = 0;
    int64_t size = 0;        // N = 4 hop
    double regularisation = 0.0;
    int64_t count = 0;       // samples taken from `a` so far
    bool divisor_ready = false;
    Eigen::FFT<double> fft;
    std::vector<double> window;    // 2 hop, periodic Hann
    std::vector<double> history;   // rows * N: the last N samples of `a`, at index time mod N
    std::vector<double> kernel;    // rows * 2 hop: the divisor's first samples
    std::vector<double> acc;       // rows * 2N: overlap-added output, at index time mod 2N
    std::vector<Complex> inverse;  // rows * (N/2 + 1): conj(B) / (|B|² + λ max|B|²)
    std::vector<double> frame;     // N, scratch
    std::vector<Complex> spectrum; // N/2 + 1, scratch
};

constexpr double kPi = 3.14159265358979323846264338327950288;

inline int64_t wrap(int64_t value, int64_t modulus)
{
    const int64_t r = value % modulus;
    return r < 0 ? r + modulus : r;
}

void clear(FftDivisionState *s)
{
    std::fill(s->history.begin(), s->history.end(), 0.0);
    std::fill(s->kernel.begin(), s->kernel.end(), 0.0);
    std::fill(s->acc.begin(), s->acc.end(), 0.0);
    std::fill(s->inverse.begin(), s->inverse.end(), Complex(0.0, 0.0));
    s->count = 0;
    s->divisor_ready = false;
}

int create(const AmpNodeSetup *setup, void **out_state)
{
    FftDivisionState *s = new (std::nothrow) FftDivisionState();
    if (s == nullptr) {
        return AMP_NODE_NO_MEMORY;
    }
    try {
        s->batch = setup->batch;
        s->channels = setup->output_channels;
        s->hop = static_cast<int32_t>(setup->initial_params[0]);
        s->regularisation = setup->initial_params[1];
        s->size = 4 * static_cast<int64_t>(s->hop);
        const size_t rows = static_cast<size_t>(s->batch) * static_cast<size_t>(s->channels);
        const size_t n = static_cast<size_t>(s->size);
        const size_t m = n / 2;
        s->window.resize(m);
        for (size_t j = 0; j < m; ++j) {
            s->window[j] = 0.5 - 0.5 * std::cos(2.0 * kPi * static_cast<double>(j) / static_cast<double>(m));
        }
        s->history.assign(rows * n, 0.0);
        s->kernel.assign(rows * m, 0.0);
        s->acc.assign(rows * 2 * n, 0.0);
        s->inverse.assign(rows * (n / 2 + 1), Complex(0.0, 0.0));
        s->frame.assign(n, 0.0);
        s->spectrum.assign(n / 2 + 1, Complex(0.0, 0.0));
        s->fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        // Build the plans and work buffers now rather than in the first process().
        s->fft.fwd(s->spectrum.data(), s->frame.data(), static_cast<Eigen::DenseIndex>(n));
        s->fft.inv(s->frame.data(), s->spectrum.data(), static_cast<Eigen::DenseIndex>(n));
        clear(s);
    } catch (...) {
        delete s;
        return AMP_NODE_NO_MEMORY;
    }
    *out_state = s;
    return AMP_NODE_OK;
}

// Once the divisor's samples are all in: its spectrum, and the regularised inverse per row.
void make_inverse(FftDivisionState *s)
{
    const int64_t n = s->size;
    const int64_t m = n / 2;
    const int64_t bins = n / 2 + 1;
    const int32_t rows = s->batch * s->channels;
    for (int32_t r = 0; r < rows; ++r) {
        const double *k = &s->kernel[static_cast<size_t>(r * m)];
        std::copy(k, k + m, s->frame.begin());
        std::fill(s->frame.begin() + m, s->frame.end(), 0.0);
        s->fft.fwd(s->spectrum.data(), s->frame.data(), static_cast<Eigen::DenseIndex>(n));
        double peak = 0.0;
        for (int64_t j = 0; j < bins; ++j) {
            peak = std::max(peak, std::norm(s->spectrum[static_cast<size_t>(j)]));
        }
        const double floor = s->regularisation * peak;
        Complex *inv = &s->inverse[static_cast<size_t>(r * bins)];
        for (int64_t j = 0; j < bins; ++j) {
            const Complex bj = s->spectrum[static_cast<size_t>(j)];
            const double denominator = std::norm(bj) + floor;
            inv[j] = denominator > 0.0 ? std::conj(bj) / denominator : Complex(0.0, 0.0);
        }
    }
    s->divisor_ready = true;
}

// The frame of `a` that starts at time `start` (2 hop samples), divided and overlap-added.
void divide_frame(FftDivisionState *s, int64_t start)
{
    const int64_t n = s->size;
    const int64_t m = n / 2;
    const int64_t bins = n / 2 + 1;
    const int64_t tail = n - n / 4;  // results at or past this index belong before the frame
    const int32_t rows = s->batch * s->channels;
    for (int32_t r = 0; r < rows; ++r) {
        const double *h = &s->history[static_cast<size_t>(r) * static_cast<size_t>(n)];
        for (int64_t j = 0; j < m; ++j) {
            const int64_t t = start + j;
            s->frame[static_cast<size_t>(j)] = t < 0 ? 0.0 : h[wrap(t, n)] * s->window[static_cast<size_t>(j)];
        }
        std::fill(s->frame.begin() + m, s->frame.end(), 0.0);
        s->fft.fwd(s->spectrum.data(), s->frame.data(), static_cast<Eigen::DenseIndex>(n));
        const Complex *inv = &s->inverse[static_cast<size_t>(r * bins)];
        for (int64_t j = 0; j < bins; ++j) {
            s->spectrum[static_cast<size_t>(j)] *= inv[j];
        }
        s->fft.inv(s->frame.data(), s->spectrum.data(), static_cast<Eigen::DenseIndex>(n));
        double *acc = &s->acc[static_cast<size_t>(r) * static_cast<size_t>(2 * n)];
        for (int64_t j = 0; j < n; ++j) {
            const int64_t t = j < tail ? start + j : start + j - n;
            acc[wrap(t, 2 * n)] += s->frame[static_cast<size_t>(j)];
        }
    }
}

// Called when `count` samples have arrived and count is a multiple of hop.
void on_hop(FftDivisionState *s)
{
    const int64_t m = s->size / 2;
    if (s->count < m) {
        return;  // the divisor is not complete yet; this frame is divided when it is
    }
    if (!s->divisor_ready) {
        make_inverse(s);
        for (int64_t done = s->hop; done < s->count; done += s->hop) {
            divide_frame(s, done - m);
        }
    }
    divide_frame(s, s->count - m);
}

int process(void *opaque, const AmpProcessArgs *args)
{
    FftDivisionState *s = static_cast<FftDivisionState *>(opaque);
    const AmpSignal *out = &args->outputs[0];
    const AmpInputPort *pa = &args->inputs[0];
    const AmpInputPort *pb = &args->inputs[1];
    const int64_t n = s->size;
    const int64_t m = n / 2;
    int32_t f = 0;
    while (f < args->frames) {
        // Up to and including the next sample on a hop boundary.
        const int64_t to_boundary = s->hop - s->count % s->hop;
        const int32_t seg = static_cast<int32_t>(
            to_boundary < static_cast<int64_t>(args->frames - f) ? to_boundary : args->frames - f);
        for (int32_t b = 0; b < args->batch; ++b) {
            for (int32_t c = 0; c < s->channels; ++c) {
                const size_t r = static_cast<size_t>(b) * static_cast<size_t>(s->channels) + static_cast<size_t>(c);
                double *h = &s->history[r * static_cast<size_t>(n)];
                const double *xa = nullptr;
                if (pa->count > 0) {
                    const AmpSignal *src = &pa->signals[0];
                    xa = amp_signal_row(src, b, src->channels == 1 ? 0 : c);
                }
                for (int32_t i = 0; i < seg; ++i) {
                    h[wrap(s->count + i, n)] = xa ? xa[f + i] : 0.0;
                }
                if (s->count < m && pb->count > 0) {
                    const AmpSignal *src = &pb->signals[0];
                    const double *xb = amp_signal_row(src, b, c % src->channels);  // a narrower divisor repeats
                    double *k = &s->kernel[r * static_cast<size_t>(m)];
                    for (int32_t i = 0; i < seg && s->count + i < m; ++i) {
                        k[s->count + i] = xb[f + i];
                    }
                }
            }
        }
        s->count += seg;
        if (s->count % s->hop == 0) {
            on_hop(s);
        }
        // The sample at stream index j emits time j - N. The frame divided just now reaches no earlier than
        // count - 3N/4, so of these only the delayed first frames, divided at count 2 hop, touch them.
        for (int32_t b = 0; b < args->batch; ++b) {
            for (int32_t c = 0; c < s->channels; ++c) {
                const size_t r = static_cast<size_t>(b) * static_cast<size_t>(s->channels) + static_cast<size_t>(c);
                double *acc = &s->acc[r * static_cast<size_t>(2 * n)];
                double *y = amp_signal_row(out, b, c) + f;
                for (int32_t i = 0; i < seg; ++i) {
                    const int64_t t = s->count - seg + i - n;
                    double &slot = acc[wrap(t, 2 * n)];
                    y[i] = slot;
                    slot = 0.0;
                }
            }
        }
        f += seg;
    }
    return AMP_NODE_OK;
}

void reset(void *opaque)
{
    clear(static_cast<FftDivisionState *>(opaque));
}

void destroy(void *opaque)
{
    delete static_cast<FftDivisionState *>(opaque);
}

const AmpPortSpec kInputs[] = {
    {"a", "the numerator: the signal to deconvolve", 0},
    {"b", "the divisor: its first 2 x hop samples are the impulse response to divide by (channel c uses its "
          "channel c mod its width); later samples are ignored", 0},
};

const AmpPortSpec kOutputs[] = {
    {"out", "x with x * b = a, late by 4 x hop samples (the FFT size)", 0},
};

const AmpParamSpec kParams[] = {
    {"hop", 256.0, 4.0, 262144.0, "samples",
     "frame step; FFT size and latency 4 x hop, window and divisor length 2 x hop", nullptr,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"regularisation", 1.0e-12, 0.0, 1.0, "",
     "lambda in conj(B) / (|B|^2 + lambda max|B|^2); bins where that is 0 give 0", nullptr, AMP_PARAM_STATIC},
};

}  // namespace

extern "C" const AmpNodeSpec amp_node_fft_division = {
    "fft_division",
    "Deconvolution by STFT spectral division with overlap-add: out solves out * b = a, where b is the "
    "first 2 x hop samples of input b, regularised by lambda; the output is late by exactly 4 x hop samples.",
    2, kInputs,
    1, kOutputs,
    AMP_CHANNELS_FROM_INPUT, 0,
    0,
    2, kParams,
    {create, process, reset, destroy, nullptr, nullptr, nullptr},
};
