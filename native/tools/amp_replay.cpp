// amp_replay - renders a diagnostics dump again, without Python, and checks it bit for bit.
//
//   amp_replay DUMP_DIR [--quiet]
//
// DUMP_DIR is what scripts/graph_runtime_diagnostic.py (or `amp diagnose`) wrote: replay.json names
// the descriptor and plan blobs, the graph configuration and, per native call, the frames, the
// control blob, the parameter overrides (.npy) and the expected PCM (block_XXX.npy). The program
// makes the same calls through the public C ABI and compares every sample's bits.
// Exit status: 0 identical, 1 some sample differs, 2 the dump cannot be read or the library failed.
// It uses nothing but the C ABI, so it runs as is under gdb, valgrind and the sanitizers.
#include "amp_native.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ----- a small JSON reader: enough for replay.json -----------------------------------------------
struct Json {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    bool boolean = false;
    double number = 0.0;
    std::string text;
    std::vector<Json> items;
    std::map<std::string, Json> fields;

    const Json &operator[](const std::string &key) const
    {
        static const Json missing;
        auto it = fields.find(key);
        return it == fields.end() ? missing : it->second;
    }
};

class JsonParser {
public:
    explicit JsonParser(const std::string &text) : s_(text) {}

    Json parse()
    {
        Json value = parse_value(0);
        skip();
        if (pos_ != s_.size()) {
            fail("trailing characters");
        }
        return value;
    }

private:
    [[noreturn]] void fail(const char *what) const
    {
        throw std::runtime_error(std::string("replay.json: ") + what + " at byte " + std::to_string(pos_));
    }
    void skip()
    {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) {
            ++pos_;
        }
    }
    bool take(const char *word)
    {
        const size_t n = std::strlen(word);
        if (s_.compare(pos_, n, word) == 0) {
            pos_ += n;
            return true;
        }
        return false;
    }
    std::string parse_string()
    {
        std::string out;
        ++pos_;  // opening quote
        while (pos_ < s_.size() && s_[pos_] != '"') {
            char c = s_[pos_++];
            if (c == '\\') {
                if (pos_ >= s_.size()) {
                    fail("unfinished escape");
                }
                const char e = s_[pos_++];
                switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u': {
                    if (pos_ + 4 > s_.size()) {
                        fail("short \\u escape");
                    }
                    const unsigned code = static_cast<unsigned>(std::strtoul(s_.substr(pos_, 4).c_str(), nullptr, 16));
                    pos_ += 4;
                    if (code < 0x80) {
                        c = static_cast<char>(code);
                    } else if (code < 0x800) {
                        out += static_cast<char>(0xC0 | (code >> 6));
                        c = static_cast<char>(0x80 | (code & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (code >> 12));
                        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                        c = static_cast<char>(0x80 | (code & 0x3F));
                    }
                    break;
                }
                default: c = e; break;
                }
            }
            out += c;
        }
        if (pos_ >= s_.size()) {
            fail("unterminated string");
        }
        ++pos_;
        return out;
    }
    Json parse_value(int depth)
    {
        if (depth > 64) {
            fail("nesting too deep");
        }
        skip();
        if (pos_ >= s_.size()) {
            fail("unexpected end");
        }
        Json value;
        const char c = s_[pos_];
        if (c == '{') {
            value.kind = Json::Object;
            ++pos_;
            skip();
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return value;
            }
            for (;;) {
                skip();
                if (pos_ >= s_.size() || s_[pos_] != '"') {
                    fail("expected a key");
                }
                std::string key = parse_string();
                skip();
                if (pos_ >= s_.size() || s_[pos_++] != ':') {
                    fail("expected ':'");
                }
                value.fields[key] = parse_value(depth + 1);
                skip();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == '}') {
                    ++pos_;
                    return value;
                }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            value.kind = Json::Array;
            ++pos_;
            skip();
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return value;
            }
            for (;;) {
                value.items.push_back(parse_value(depth + 1));
                skip();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == ']') {
                    ++pos_;
                    return value;
                }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            value.kind = Json::String;
            value.text = parse_string();
            return value;
        }
        if (take("null")) {
            return value;
        }
        if (take("true")) {
            value.kind = Json::Bool;
            value.boolean = true;
            return value;
        }
        if (take("false")) {
            value.kind = Json::Bool;
            return value;
        }
        if (take("Infinity") || take("NaN") || take("-Infinity")) {
            fail("non-finite number");
        }
        char *end = nullptr;
        value.number = std::strtod(s_.c_str() + pos_, &end);
        if (end == s_.c_str() + pos_) {
            fail("unexpected character");
        }
        value.kind = Json::Number;
        pos_ = static_cast<size_t>(end - s_.c_str());
        return value;
    }

    const std::string &s_;
    size_t pos_ = 0;
};

// ----- files ---------------------------------------------------------------------------------------
std::vector<uint8_t> read_file(const std::string &path)
{
    std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) {
        throw std::runtime_error("cannot open " + path);
    }
    std::vector<uint8_t> bytes;
    uint8_t chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) {
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
    return bytes;
}

// A float64 array from a .npy file: little-endian '<f8', C order (what numpy.save writes for them).
struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<double> data;
};

NpyArray read_npy(const std::string &path)
{
    const std::vector<uint8_t> bytes = read_file(path);
    if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
        throw std::runtime_error(path + ": not a .npy file");
    }
    const int major = bytes[6];
    size_t header_len = 0;
    size_t offset = 0;
    if (major == 1) {
        header_len = static_cast<size_t>(bytes[8]) | static_cast<size_t>(bytes[9]) << 8;
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) {
            throw std::runtime_error(path + ": truncated header");
        }
        header_len = static_cast<size_t>(bytes[8]) | static_cast<size_t>(bytes[9]) << 8 |
                     static_cast<size_t>(bytes[10]) << 16 | static_cast<size_t>(bytes[11]) << 24;
        offset = 12;
    } else {
        throw std::runtime_error(path + ": .npy version " + std::to_string(major) + " is not supported");
    }
    if (offset + header_len > bytes.size()) {
        throw std::runtime_error(path + ": truncated header");
    }
    const std::string header(reinterpret_cast<const char *>(bytes.data() + offset), header_len);
    if (header.find("'descr': '<f8'") == std::string::npos) {
        throw std::runtime_error(path + ": only little-endian float64 ('<f8') arrays are supported");
    }
    if (header.find("'fortran_order': False") == std::string::npos) {
        throw std::runtime_error(path + ": only C-order arrays are supported");
    }
    const size_t open = header.find("'shape': (");
    const size_t close = open == std::string::npos ? open : header.find(')', open);
    if (close == std::string::npos) {
        throw std::runtime_error(path + ": header has no shape");
    }
    NpyArray array;
    uint64_t count = 1;
    const char *p = header.c_str() + open + 10;
    const char *end = header.c_str() + close;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',')) {
            ++p;
        }
        if (p >= end) {
            break;
        }
        char *after = nullptr;
        const long long dim = std::strtoll(p, &after, 10);
        if (after == p || dim < 0) {
            throw std::runtime_error(path + ": bad shape");
        }
        array.shape.push_back(dim);
        count *= static_cast<uint64_t>(dim);
        p = after;
    }
    const size_t data_offset = offset + header_len;
    if ((bytes.size() - data_offset) / 8 < count) {
        throw std::runtime_error(path + ": holds fewer samples than its shape says");
    }
    array.data.resize(static_cast<size_t>(count));
    std::memcpy(array.data.data(), bytes.data() + data_offset, static_cast<size_t>(count) * 8);
    return array;
}

std::string describe_error(const AmpErrorInfo &error)
{
    std::string text = error.message;
    std::string where;
    if (error.node[0]) {
        where += std::string("node '") + error.node + "'";
    }
    if (error.stage[0]) {
        where += (where.empty() ? "" : ", ") + std::string("stage ") + error.stage;
    }
    if (error.block_index >= 0) {
        where += (where.empty() ? "" : ", ") + std::string("block ") + std::to_string(error.block_index);
    }
    return text + (where.empty() ? "" : " [" + where + "]") + " (code " + std::to_string(error.code) + ")";
}

struct GraphHandle {
    AmpGraph *graph = nullptr;
    ~GraphHandle()
    {
        if (graph != nullptr) {
            amp_graph_destroy(graph);
        }
    }
};

int replay(const std::string &dir, bool quiet)
{
    const std::vector<uint8_t> text = read_file(dir + "/replay.json");
    const std::string source(text.begin(), text.end());
    const Json root = JsonParser(source).parse();
    if (root["format"].text != "amp-replay" || root["version"].number != 1.0) {
        throw std::runtime_error(dir + "/replay.json is not an amp-replay version 1 file");
    }
    const Json &config = root["config"];
    const std::vector<uint8_t> descriptor = read_file(dir + "/" + root["descriptor"].text);
    const std::vector<uint8_t> plan = read_file(dir + "/" + root["plan"].text);
    AmpGraphConfig graph_config{};
    graph_config.batch = static_cast<int32_t>(config["batch"].number);
    graph_config.max_block_frames = static_cast<int32_t>(config["max_block_frames"].number);
    graph_config.threads = static_cast<int32_t>(config["threads"].number);
    graph_config.channel_depth = static_cast<int32_t>(config["channel_depth"].number);
    graph_config.sample_rate = config["sample_rate"].number;
    graph_config.disabled_optimisations = static_cast<uint32_t>(config["disabled_optimisations"].number);

    AmpErrorInfo error{};
    GraphHandle handle;
    if (amp_graph_create(descriptor.data(), descriptor.size(), plan.data(), plan.size(), &graph_config,
                         &handle.graph, &error) != AMP_OK) {
        std::fprintf(stderr, "amp_replay: amp_graph_create failed: %s\n", describe_error(error).c_str());
        return 2;
    }
    AmpGraphInfo info{};
    amp_graph_info(handle.graph, &info);

    uint64_t compared = 0;
    uint64_t mismatched = 0;
    const Json &calls = root["calls"];
    for (size_t k = 0; k < calls.items.size(); ++k) {
        const Json &call = calls.items[k];
        const int64_t total = static_cast<int64_t>(call["total_frames"].number);
        const int32_t block_frames = static_cast<int32_t>(call["block_frames"].number);
        std::vector<uint8_t> control;
        if (call["control"].kind == Json::String) {
            control = read_file(dir + "/" + call["control"].text);
        }
        std::vector<NpyArray> arrays;
        std::vector<AmpParamOverride> overrides;
        for (const Json &o : call["overrides"].items) {
            arrays.push_back(read_npy(dir + "/" + o["file"].text));
            if (arrays.back().shape.size() != 3) {
                throw std::runtime_error(o["file"].text + ": an override must be 3-D (B, C, F)");
            }
        }
        for (size_t i = 0; i < arrays.size(); ++i) {
            const Json &o = call["overrides"].items[i];
            AmpParamOverride override_{};
            override_.node = static_cast<uint32_t>(o["node"].number);
            override_.param = static_cast<uint32_t>(o["param"].number);
            override_.data = arrays[i].data.data();
            override_.batch = static_cast<int32_t>(arrays[i].shape[0]);
            override_.channels = static_cast<int32_t>(arrays[i].shape[1]);
            override_.frames = arrays[i].shape[2];
            overrides.push_back(override_);
        }
        const size_t samples = static_cast<size_t>(info.batch) * static_cast<size_t>(info.output_channels) *
                               static_cast<size_t>(total);
        std::vector<double> output(samples > 0 ? samples : 1);
        const int32_t status = amp_graph_render(handle.graph, total, block_frames, overrides.data(),
                                                static_cast<uint32_t>(overrides.size()),
                                                control.empty() ? nullptr : control.data(), control.size(),
                                                output.data(), samples);
        if (status != AMP_OK) {
            amp_graph_last_error(handle.graph, &error);
            std::fprintf(stderr, "amp_replay: call %zu (block %d) failed: %s\n", k,
                         static_cast<int>(call["block"].number), describe_error(error).c_str());
            return 2;
        }
        if (call["expected"].kind != Json::String) {
            continue;  // the dump stopped before this call returned: rendering it is the reproduction
        }
        const NpyArray expected = read_npy(dir + "/" + call["expected"].text);
        if (expected.data.size() != samples) {
            std::fprintf(stderr, "amp_replay: %s holds %zu samples; the replay rendered %zu\n",
                         call["expected"].text.c_str(), expected.data.size(), samples);
            return 1;
        }
        uint64_t differing = 0;
        for (size_t i = 0; i < samples; ++i) {
            if (std::memcmp(&output[i], &expected.data[i], sizeof(double)) != 0) {
                if (differing == 0) {
                    const size_t f = i % static_cast<size_t>(total);
                    const size_t c = (i / static_cast<size_t>(total)) % static_cast<size_t>(info.output_channels);
                    const size_t b = i / (static_cast<size_t>(total) * static_cast<size_t>(info.output_channels));
                    std::fprintf(stderr, "amp_replay: %s differs first at [%zu, %zu, %zu]: replay %.17g, dump %.17g\n",
                                 call["expected"].text.c_str(), b, c, f, output[i], expected.data[i]);
                }
                ++differing;
            }
        }
        compared += samples;
        mismatched += differing;
        if (!quiet) {
            std::printf("%s: %zu samples, %s\n", call["expected"].text.c_str(), samples,
                        differing ? (std::to_string(differing) + " differ").c_str() : "bit-identical");
        }
    }
    if (mismatched != 0) {
        std::printf("amp_replay: %llu of %llu samples differ\n", static_cast<unsigned long long>(mismatched),
                    static_cast<unsigned long long>(compared));
        return 1;
    }
    std::printf("amp_replay: %zu calls, %llu samples, bit-identical\n", calls.items.size(),
                static_cast<unsigned long long>(compared));
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    std::string dir;
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (dir.empty() && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            dir.clear();
            break;
        }
    }
    if (dir.empty()) {
        std::fprintf(stderr, "usage: amp_replay DUMP_DIR [--quiet]\n"
                             "  DUMP_DIR: a dump written by scripts/graph_runtime_diagnostic.py or `amp diagnose`\n");
        return 2;
    }
    try {
        return replay(dir, quiet);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "amp_replay: %s\n", e.what());
        return 2;
    }
}
