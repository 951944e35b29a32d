/* amp_log.c - the run-time side of logging: the switch, the directory and the record writer. */
#include "amp_log.h"

#include "amp_native.h"

#ifdef AMP_NATIVE_ENABLE_LOGGING

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int log_enabled;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static char log_directory[1024] = "";

int amp_log_enabled(void)
{
    return __atomic_load_n(&log_enabled, __ATOMIC_RELAXED);
}

uint64_t amp_log_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int make_directories(const char *path)
{
    char partial[sizeof(log_directory)];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(partial)) {
        return -1;
    }
    memcpy(partial, path, n + 1);
    for (size_t i = 1; i <= n; ++i) {
        if (partial[i] == '/' || partial[i] == '\0') {
            const char saved = partial[i];
            partial[i] = '\0';
            if (mkdir(partial, 0777) != 0 && errno != EEXIST) {
                return -1;
            }
            partial[i] = saved;
        }
    }
    return 0;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Called with log_lock held. */
static int open_log_file(void)
{
    if (log_file != NULL) {
        return 0;
    }
    if (log_directory[0] == '\0') {
        const char *env = getenv("AMP_LOG_DIR");
        snprintf(log_directory, sizeof(log_directory), "%s", (env && env[0]) ? env : "logs");
    }
    if (make_directories(log_directory) != 0) {
        return -1;
    }
    char path[sizeof(log_directory) + 32];
    snprintf(path, sizeof(path), "%s/amp_native.jsonl", log_directory);
    log_file = fopen(path, "a");
    return log_file == NULL ? -1 : 0;
}

static void write_record(const char *body)
{
    pthread_mutex_lock(&log_lock);
    if (log_file != NULL) {
        fprintf(log_file, "{\"time\":%.6f,%s}\n", wall_seconds(), body);
        fflush(log_file);
    }
    pthread_mutex_unlock(&log_lock);
}

/* `text` as the inside of a JSON string: quotes, backslashes and control bytes escaped. Node names
 * and paths come from the caller, so they may hold any of them. */
static void escape_json(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p && n + 7 < size; ++p) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
}

static void write_event(const char *event, const char *node, const char *detail_format, va_list args)
{
    char detail[640];
    vsnprintf(detail, sizeof(detail), detail_format, args);
    char name[400];
    escape_json(node, name, sizeof(name));
    char body[1152];
    if (node != NULL) {
        snprintf(body, sizeof(body), "\"event\":\"%s\",\"node\":\"%s\"%s%s", event, name, detail[0] ? "," : "", detail);
    } else {
        snprintf(body, sizeof(body), "\"event\":\"%s\"%s%s", event, detail[0] ? "," : "", detail);
    }
    write_record(body);
}

void amp_log_api(const char *function, const char *detail_format, ...)
{
    char detail[640];
    va_list args;
    va_start(args, detail_format);
    vsnprintf(detail, sizeof(detail), detail_format, args);
    va_end(args);
    char body[768];
    snprintf(body, sizeof(body), "\"event\":\"api\",\"function\":\"%s\"%s%s", function, detail[0] ? "," : "",
             detail);
    write_record(body);
}

void amp_log_event(const char *event, const char *node, const char *detail_format, ...)
{
    va_list args;
    va_start(args, detail_format);
    write_event(event, node, detail_format, args);
    va_end(args);
}

void amp_log_node_timing(const char *node, int64_t block_index, int32_t frames, uint64_t nanoseconds)
{
    amp_log_event("node_timing", node, "\"block\":%lld,\"frames\":%d,\"ns\":%llu", (long long)block_index, frames,
                  (unsigned long long)nanoseconds);
}

void amp_log_allocation(const char *what, size_t bytes)
{
    char body[256];
    snprintf(body, sizeof(body), "\"event\":\"allocation\",\"what\":\"%s\",\"bytes\":%zu", what, bytes);
    write_record(body);
}

void amp_log_error(const char *function, const void *error_info)
{
    const AmpErrorInfo *error = (const AmpErrorInfo *)error_info;
    if (error == NULL) {
        return;
    }
    char stage[80];
    char message[1100];
    escape_json(error->stage, stage, sizeof(stage));
    escape_json(error->message, message, sizeof(message));
    char body[2048];
    char node[200];
    escape_json(error->node, node, sizeof(node));
    snprintf(body, sizeof(body),
             "\"event\":\"error\",\"function\":\"%s\",\"code\":%d,\"stage\":\"%s\",\"node\":\"%s\",\"block\":%lld,"
             "\"message\":\"%s\"",
             function, error->code, stage, node, (long long)error->block_index, message);
    write_record(body);
}

int32_t amp_native_logging_set(int32_t enabled)
{
    pthread_mutex_lock(&log_lock);
    int32_t status = AMP_OK;
    if (enabled) {
        if (open_log_file() != 0) {
            status = AMP_ERR_INVALID_ARGUMENT;
        }
    } else if (log_file != NULL) {
        fclose(log_file);
        log_file = NULL;
    }
    __atomic_store_n(&log_enabled, status == AMP_OK && enabled ? 1 : 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&log_lock);
    if (status == AMP_OK && enabled) {
        char directory[sizeof(log_directory) * 2];
        escape_json(log_directory, directory, sizeof(directory));
        amp_log_api("amp_native_logging_set", "\"enabled\":1,\"directory\":\"%s\"", directory);
    }
    return status;
}

int32_t amp_native_logging_set_directory(const char *path)
{
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(log_directory)) {
        return AMP_ERR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&log_lock);
    snprintf(log_directory, sizeof(log_directory), "%s", path);
    if (log_file != NULL) {
        fclose(log_file);
        log_file = NULL;
        if (open_log_file() != 0) {
            __atomic_store_n(&log_enabled, 0, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&log_lock);
    return AMP_OK;
}

#else

int32_t amp_native_logging_set(int32_t enabled)
{
    return enabled ? AMP_ERR_LOGGING_UNAVAILABLE : AMP_OK;
}

int32_t amp_native_logging_set_directory(const char *path)
{
    (void)path;
    return AMP_ERR_LOGGING_UNAVAILABLE;
}

#endif
