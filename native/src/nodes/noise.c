/* noise - white or pink noise, one independent stream per channel.
 *
 * White: uniform on [-amp, amp), mean 0, variance amp^2 / 3, from xoshiro256** seeded through
 * SplitMix64. A channel's stream depends only on the seed and the channel: the seed is the `seed`
 * parameter when it is not 0, else one derived from the node's name. Like every node, a batch row
 * renders exactly as it would alone, so rows given the same seed make the same noise; give each
 * row its own seed through base_params ({"noise": {"seed": seeds.reshape(B, 1, 1)}}) for
 * different noise per row. A change of seed during a render restarts the sequence from the new
 * seed on that sample (the pink filter keeps its memory, so there is no click).
 *
 * Pink: the white stream through a cascade of first-order sections (1 - z_k/z) / (1 - p_k/z), poles
 * at 0.25 sample_rate / 2^k down to about 5 Hz, zeros half an octave above each, so the spectrum
 * falls 3 dB per octave (within 0.1 dB from 20 Hz to 0.49 sample_rate; flat below the lowest
 * pole). The top three sections are fitted (scripts/fit_pink_filter.py) to hold the slope up to
 * Nyquist. The cascade's gain is set at creation so that pink has white's variance, amp^2 / 3. */
#include "../amp_node.h"
#include "../amp_wrapping.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { NOISE_PARAM_COLOR, NOISE_PARAM_AMP, NOISE_PARAM_SEED, NOISE_PARAM_CHANNELS };
enum { NOISE_WHITE = 0, NOISE_PINK = 1 };

#define NOISE_MAX_SECTIONS 32
#define NOISE_FITTED 3
#define NOISE_LOWEST_POLE_HZ 5.0

static const double kFittedPoles[NOISE_FITTED] = {-0.53616680924117621, 0.26018330492209651, 0.66184400852366276};
static const double kFittedZeros[NOISE_FITTED] = {-0.57503945653901245, 0.01019082132362456, 0.5009476391934472};

typedef struct NoiseStream {
    uint64_t s[4];
    double seed;  /* the seed parameter the sequence was started from; NaN before the first sample */
    double x1[NOISE_MAX_SECTIONS];
    double y1[NOISE_MAX_SECTIONS];
} NoiseStream;

typedef struct NoiseState {
    int32_t batch;
    int32_t channels;
    int32_t color;
    int32_t sections;
    uint64_t name_seed;
    double gain;  /* pink: makes the cascade's output variance that of its input */
    double pole[NOISE_MAX_SECTIONS];
    double zero[NOISE_MAX_SECTIONS];
    NoiseStream *streams;  /* batch * channels */
} NoiseState;

/* splitmix64 and xoshiro256** compute modulo 2^64 by design. */
static AMP_WRAPPING uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline AMP_WRAPPING uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline AMP_WRAPPING uint64_t xoshiro_next(uint64_t *s)
{
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform on [-1, 1) with 53 random bits. */
static inline double noise_uniform(uint64_t *s)
{
    return (double)(xoshiro_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* Starts a channel's sequence from a seed parameter value. */
static AMP_WRAPPING void noise_seed(const NoiseState *state, NoiseStream *stream, double seed, int32_t channel)
{
    uint64_t x = state->name_seed;
    if (seed >= 1.0 && seed < 18446744073709551616.0) {
        uint64_t given = (uint64_t)seed;
        x = splitmix64(&given);
    }
    x ^= 0x8CB92BA72F3D8DD7ull * ((uint64_t)channel + 1);
    for (int i = 0; i < 4; ++i) {
        stream->s[i] = splitmix64(&x);
    }
    stream->seed = seed;
}

static void noise_reset_streams(NoiseState *state)
{
    for (int32_t i = 0; i < state->batch * state->channels; ++i) {
        NoiseStream *stream = &state->streams[i];
        stream->seed = NAN;
        for (int k = 0; k < NOISE_MAX_SECTIONS; ++k) {
            stream->x1[k] = 0.0;
            stream->y1[k] = 0.0;
        }
    }
}

static void noise_compute_pink(NoiseState *state, double sample_rate)
{
    const double kPi = 3.14159265358979323846;
    int32_t n = 0;
    for (double f = 0.25 * sample_rate; n < NOISE_MAX_SECTIONS && (n < NOISE_FITTED || f >= NOISE_LOWEST_POLE_HZ);
         f *= 0.5, ++n) {
        if (n < NOISE_FITTED) {
            state->pole[n] = kFittedPoles[n];
            state->zero[n] = kFittedZeros[n];
        } else {
            state->pole[n] = exp(-2.0 * kPi * f / sample_rate);
            state->zero[n] = exp(-2.0 * kPi * f * 1.4142135623730951 / sample_rate);
        }
    }
    state->sections = n;
    /* Power gain of the cascade: the energy of its impulse response, summed until the slowest
     * pole has decayed by 200 dB. */
    double x1[NOISE_MAX_SECTIONS] = {0.0};
    double y1[NOISE_MAX_SECTIONS] = {0.0};
    const double slowest = state->pole[n - 1];
    const long length = (long)(23.0 / (1.0 - slowest)) + 64;
    double energy = 0.0;
    for (long i = 0; i < length; ++i) {
        double v = i == 0 ? 1.0 : 0.0;
        for (int32_t k = 0; k < n; ++k) {
            const double y = v - state->zero[k] * x1[k] + state->pole[k] * y1[k];
            x1[k] = v;
            y1[k] = y;
            v = y;
        }
        energy += v * v;
    }
    state->gain = 1.0 / sqrt(energy);
}

/* The gain above sums some 30,000 samples of the cascade's impulse response (0.4 ms): graphs made
 * again and again at one sample rate (a dataset's shards, a fuzzer's inputs) reuse the design. */
typedef struct PinkDesign {
    double sample_rate;
    int32_t sections;
    double gain;
    double pole[NOISE_MAX_SECTIONS];
    double zero[NOISE_MAX_SECTIONS];
} PinkDesign;

enum { PINK_DESIGNS_KEPT = 4 };
static PinkDesign pink_designs[PINK_DESIGNS_KEPT];
static int32_t pink_designs_count;
static int32_t pink_designs_next;
static pthread_mutex_t pink_designs_lock = PTHREAD_MUTEX_INITIALIZER;

static void noise_design_pink(NoiseState *state, double sample_rate)
{
    pthread_mutex_lock(&pink_designs_lock);
    for (int32_t i = 0; i < pink_designs_count; ++i) {
        const PinkDesign *d = &pink_designs[i];
        if (d->sample_rate == sample_rate) {
            state->sections = d->sections;
            state->gain = d->gain;
            memcpy(state->pole, d->pole, sizeof(state->pole));
            memcpy(state->zero, d->zero, sizeof(state->zero));
            pthread_mutex_unlock(&pink_designs_lock);
            return;
        }
    }
    pthread_mutex_unlock(&pink_designs_lock);
    noise_compute_pink(state, sample_rate);
    pthread_mutex_lock(&pink_designs_lock);
    PinkDesign *d = &pink_designs[pink_designs_next];
    pink_designs_next = (pink_designs_next + 1) % PINK_DESIGNS_KEPT;
    if (pink_designs_count < PINK_DESIGNS_KEPT) {
        ++pink_designs_count;
    }
    d->sample_rate = sample_rate;
    d->sections = state->sections;
    d->gain = state->gain;
    memcpy(d->pole, state->pole, sizeof(d->pole));
    memcpy(d->zero, state->zero, sizeof(d->zero));
    pthread_mutex_unlock(&pink_designs_lock);
}

static int noise_create(const AmpNodeSetup *setup, void **out_state)
{
    NoiseState *state = (NoiseState *)amp_node_calloc(1, sizeof(*state));
    if (state == NULL) {
        return AMP_NODE_NO_MEMORY;
    }
    state->batch = setup->batch;
    state->channels = setup->output_channels;
    state->color = (int32_t)setup->initial_params[NOISE_PARAM_COLOR];
    state->name_seed = setup->seed;
    state->streams = (NoiseStream *)amp_node_calloc((size_t)setup->batch * (size_t)state->channels, sizeof(NoiseStream));
    if (state->streams == NULL) {
        free(state);
        return AMP_NODE_NO_MEMORY;
    }
    if (state->color == NOISE_PINK) {
        noise_design_pink(state, setup->sample_rate);
    }
    noise_reset_streams(state);
    *out_state = state;
    return AMP_NODE_OK;
}

static int noise_process(void *opaque, const AmpProcessArgs *args)
{
    NoiseState *state = (NoiseState *)opaque;
    const AmpSignal *out = &args->outputs[0];
    const AmpParamView *amp = &args->params[NOISE_PARAM_AMP];
    const AmpParamView *seed = &args->params[NOISE_PARAM_SEED];
    const int32_t n = state->sections;
    for (int32_t b = 0; b < args->batch; ++b) {
        for (int32_t c = 0; c < out->channels; ++c) {
            NoiseStream *stream = &state->streams[(size_t)b * (size_t)state->channels + (size_t)c];
            double *y = amp_signal_row(out, b, c);
            const double *g = amp_param_row(amp, b, c);
            const ptrdiff_t gs = amp->stride_frame;
            const double *sd = amp_param_row(seed, b, c);
            const ptrdiff_t ss = seed->stride_frame;
            for (int32_t f = 0; f < args->frames; ++f) {
                const double wanted = sd[f * ss] == sd[f * ss] ? sd[f * ss] : 0.0;
                if (wanted != stream->seed) {
                    noise_seed(state, stream, wanted, c);
                }
                double v = noise_uniform(stream->s);
                if (state->color == NOISE_PINK) {
                    for (int32_t k = 0; k < n; ++k) {
                        const double w = v - state->zero[k] * stream->x1[k] + state->pole[k] * stream->y1[k];
                        stream->x1[k] = v;
                        stream->y1[k] = w;
                        v = w;
                    }
                    v *= state->gain;
                }
                y[f] = g[f * gs] * v;
            }
        }
    }
    return AMP_NODE_OK;
}

static void noise_reset(void *opaque)
{
    noise_reset_streams((NoiseState *)opaque);
}

static void noise_destroy(void *opaque)
{
    NoiseState *state = (NoiseState *)opaque;
    if (state != NULL) {
        free(state->streams);
        free(state);
    }
}

static const AmpPortSpec noise_outputs[] = {
    {"out", "the noise, one independent stream per channel", 0},
};

static const AmpParamSpec noise_params[] = {
    {"color", 0.0, 0.0, 1.0, "", "white (flat) or pink (-3 dB per octave)", "white|pink",
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
    {"amp", 1.0, -1.0e6, 1.0e6, "", "white is uniform on [-amp, amp); both colours have variance amp^2 / 3", NULL,
     0},
    {"seed", 0.0, 0.0, 4294967295.0, "", "sequence seed (per row through base_params); 0 derives one from the "
     "node's name", NULL, AMP_PARAM_INTEGER},
    {"channels", 1.0, 1.0, 64.0, "channels", "how many independent channels", NULL,
     AMP_PARAM_STATIC | AMP_PARAM_INTEGER},
};

const AmpNodeSpec amp_node_noise = {
    "noise",
    "White (uniform, variance amp^2/3) or pink (-3 dB/octave, same variance) noise; each channel's "
    "sequence depends only on the seed and the channel (give rows different seeds for different noise).",
    0, NULL,
    1, noise_outputs,
    AMP_CHANNELS_FROM_PARAM, NOISE_PARAM_CHANNELS,
    0,
    4, noise_params,
    {noise_create, noise_process, noise_reset, noise_destroy, NULL, NULL, NULL},
};
