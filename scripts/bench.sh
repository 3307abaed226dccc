#!/bin/sh
# bench.sh - the chain against a bare hyper baseline, side by side, on loopback (docs/BENCHMARKS.md).
#
#   sh scripts/bench.sh [-d SECONDS] [-r REPS] [-c "1 32 128"] [-s "SYSTEMS"] [-I REQUESTS] [-o FILE] [--no-build]
#
# Every run is bounded: wrk runs -d seconds under `timeout`, start-up probes give up after 10 s, processes are
# stopped with SIGTERM (SIGKILL after 5 s) even when the script is interrupted.
set -eu

usage() {
    cat <<'EOF'
Usage: sh scripts/bench.sh [options]

Measures, in one run and on loopback only, each SYSTEM at each connection
count: requests/s, p50/p99/max latency (wrk), idle RSS and RSS after load per
process, time from process start to its first 200, CPU seconds per 10k
requests. Repeats REPS times, each repetition measuring every system once in
turn, and prints the median and spread (min-max) of each figure as Markdown,
plus the ratio of each chain system to bare: the median and spread of the
per-repetition ratios (each from a pair measured back to back), the only
comparison a noisy machine does not blur.

With -I, measures instead the user-space instructions per request of the
middle hop (preference, or bare's second hop) under valgrind's callgrind: a
count that does not depend on the machine's load.

Systems (-s, default "bare chain chain-warn rec v3"):
  bare        bench-only baseline: bare-chain x3 (hyper only, the physical limit)
  probe       bench-only: probe x3, actix-web + reqwest and nothing else (the stack's own cost)
  chain       customer -> preference -> recommendation v1 (RUST_LOG=info, the tutorial's per-request log line)
  chain-warn  the same with RUST_LOG=warn (cost of the per-request log line)
  chain-w2    the same with WORKERS=2 in each service
  chain-nocolor  the same with NO_COLOR=1 (plain text logs, no ANSI colour codes)
  chain-mimalloc the same with mimalloc preloaded (LD_PRELOAD of Debian's libmimalloc2.0)
  chain-alt   the same with the binaries in $BENCH_ALT_BIN (another build, e.g.
              another profile: an A/B pair in one run)
  rec         recommendation v1 alone (one hop)
  v3          the chain with recommendation v3 and the stand-in time API (four hops)

Options:
  -d SECONDS   length of each wrk run (default 5)
  -r REPS      repetitions (default 3)
  -c LIST      connection counts (default "1 32 128")
  -s LIST      systems to measure (see above)
  -S SECONDS   soak: after the measurements, start the first chain-like
               system afresh, load it with 32 connections for 1 s, then this
               much longer, and report RSS growth from the first second to the
               end (default 0: no soak)
  -I REQUESTS  instead of wrk: run the middle hop under callgrind, send
               200 warm-up requests, then REQUESTS sequential keep-alive ones
               (curl), and report its instructions per request
  -o FILE      also write the Markdown report to FILE
  --no-build   use the binaries already built
  -h, --help   show this help

Environment:
  CARGO_TARGET_DIR   where the release binaries are built (default: target)
  BENCH_PORT         first of four loopback ports used (default 18080)
  BENCH_FEATURES     extra cargo features for the services, e.g. tutorial-common/mimalloc
  WRK_THREADS        wrk threads above 1 connection (default 2)
  BENCH_MIMALLOC     mimalloc shared library for chain-mimalloc
                     (default /usr/lib/x86_64-linux-gnu/libmimalloc.so.2)
  BENCH_ALT_BIN      directory with the customer, preference and recommendation
                     binaries of chain-alt
  BENCH_CALLGRIND    with -I, a directory to keep the callgrind profiles in
                     (for callgrind_annotate; symbols need an unstripped build)

wrk is installed with apt-get when missing (needs root). Figures are relative:
compare systems measured in the same run, on the same machine.
EOF
}

fail() {
    printf 'bench.sh: %s\n' "$1" >&2
    exit 2
}

command_line="sh scripts/bench.sh${*:+ $*}"
duration=5
reps=3
conns="1 32 128"
systems="bare chain chain-warn rec v3"
out=""
soak=0
instr=0
build=1
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        -d) [ $# -ge 2 ] || fail "-d needs a value"; duration=$2; shift 2 ;;
        -r) [ $# -ge 2 ] || fail "-r needs a value"; reps=$2; shift 2 ;;
        -c) [ $# -ge 2 ] || fail "-c needs a value"; conns=$2; shift 2 ;;
        -s) [ $# -ge 2 ] || fail "-s needs a value"; systems=$2; shift 2 ;;
        -o) [ $# -ge 2 ] || fail "-o needs a value"; out=$2; shift 2 ;;
        -S) [ $# -ge 2 ] || fail "-S needs a value"; soak=$2; shift 2 ;;
        -I) [ $# -ge 2 ] || fail "-I needs a value"; instr=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) fail "unknown argument $1 (see --help)" ;;
    esac
done
case $duration in '' | *[!0-9]*) fail "-d wants whole seconds" ;; esac
case $reps in '' | *[!0-9]* | 0) fail "-r wants a positive number" ;; esac
case $soak in '' | *[!0-9]*) fail "-S wants whole seconds" ;; esac
case $instr in '' | *[!0-9]*) fail "-I wants a number of requests" ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release
port=${BENCH_PORT:-18080}
wrk_threads=${WRK_THREADS:-2}
p_cust=$port
p_pref=$((port + 1))
p_rec=$((port + 2))
p_time=$((port + 3))
tick=$(getconf CLK_TCK)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
raw=$work/raw.tsv
: >"$raw"
pids=""

stop_all() {
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $pids; do
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    done
    pids=""
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench.sh: installing wrk" >&2
    if ! { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }; then
        fail "wrk is missing and apt-get could not install it"
    fi
fi

if [ "$instr" -gt 0 ]; then
    for tool in valgrind callgrind_control curl; do
        command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (apt-get install valgrind curl)"
    done
fi

if [ $build -eq 1 ]; then
    set -- -p customer -p preference -p recommendation -p worldclock-standin -p bare-chain
    if [ -n "${BENCH_FEATURES:-}" ]; then set -- "$@" --features "$BENCH_FEATURES"; fi
    (cd "$root" && cargo build --release --quiet "$@") || fail "release build failed"
fi
for system in $systems; do
    case $system in
        bare) need=bare-chain ;;
        probe) need=probe ;;
        chain-alt)
            alt_bin=${BENCH_ALT_BIN:?chain-alt needs BENCH_ALT_BIN}
            for b in customer preference recommendation; do
                [ -x "$alt_bin/$b" ] || fail "$alt_bin/$b is missing (BENCH_ALT_BIN)"
            done
            need=""
            ;;
        rec) need=recommendation ;;
        v3) need="customer preference recommendation worldclock-standin" ;;
        *) need="customer preference recommendation" ;;
    esac
    for b in $need first-200; do
        [ -x "$bin/$b" ] || fail "$bin/$b is missing (build first or drop --no-build)"
    done
done

record() { printf '%s\t%s\t%s\t%s\n' "$rep" "$system" "$1" "$2" >>"$raw"; }

# start NAME PORT PATH ENV... : starts a process, records its start-to-first-200 and idle RSS.
# With -I, the middle hop runs under callgrind, instrumentation off until the warm-up is done.
start() {
    name=$1 p=$2 path=$3
    shift 3
    # first-200 starts the service (which inherits this environment) and times its first 200.
    set -- "$@" "$bin/first-200" "http://127.0.0.1:$p$path" --
    if [ "$instr" -gt 0 ] && [ "$name" = "$middle" ]; then
        cg_out=$work/callgrind.$system.$rep
        set -- "$@" valgrind --tool=callgrind --instr-atstart=no --log-file="$cg_out.log" \
            --callgrind-out-file="$cg_out"
    fi
    dir=$bin
    [ "$system" = chain-alt ] && dir=$alt_bin
    line=$(env -i PATH="$PATH" PORT="$p" BIND_ADDRESS=127.0.0.1 HOSTNAME=bench "$@" \
        "$dir/$(binary_of "$name")") || fail "$name did not answer 200 within 10s"
    pid=${line#* }
    pids="$pids $pid"
    record "start_ms_$name" "${line% *}"
    eval "pid_$name=$pid"
}

binary_of() {
    case $1 in
        bare*) echo bare-chain ;;
        probe*) echo probe ;;
        time) echo worldclock-standin ;;
        *) echo "$1" ;;
    esac
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# to_ms VALUE : wrk's 812.00us / 1.23ms / 1.02s -> milliseconds.
to_ms() {
    echo "$1" | awk '/us$/ {sub("us",""); print $0/1000; next}
                     /ms$/ {sub("ms",""); print $0+0; next}
                     /m$/ {sub("m",""); print $0*60000; next}
                     /s$/ {sub("s",""); print $0*1000; next}'
}

# load C : one wrk run at C connections against $url; records req/s, latencies, errors, request count.
load() {
    c=$1
    t=$wrk_threads
    [ "$c" -lt "$t" ] && t=$c
    report=$work/wrk.txt
    timeout $((duration + 15)) wrk -t"$t" -c"$c" -d"${duration}s" --latency "$url" >"$report" 2>&1 ||
        fail "wrk failed: $(cat "$report")"
    record "rps_c$c" "$(awk '/^Requests\/sec:/ {print $2}' "$report")"
    record "p50_c$c" "$(to_ms "$(awk '$1 == "50%" {print $2}' "$report")")"
    record "p99_c$c" "$(to_ms "$(awk '$1 == "99%" {print $2}' "$report")")"
    record "max_c$c" "$(to_ms "$(awk '$1 == "Latency" {print $4; exit}' "$report")")"
    requests=$(awk '/requests in/ {print $1}' "$report")
    errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$report")
    record "errors_c$c" "$errors"
    total_requests=$((total_requests + requests))
}

# requests N FILE : a curl config sending N sequential requests to $url over one keep-alive connection.
requests() {
    i=0
    while [ "$i" -lt "$1" ]; do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; i=$((i + 1)); done >"$2"
}

# count_instructions : the middle hop runs under callgrind; its instructions per request after a warm-up.
# (vgdb names its pipes after HOSTNAME, which the services see as "bench".)
count_instructions() {
    cg_pid=$(eval "echo \$pid_$middle")
    requests 200 "$work/warm.curl"
    requests "$instr" "$work/load.curl"
    timeout 300 curl -sf --config "$work/warm.curl" || fail "$system: warm-up requests failed"
    HOSTNAME=bench callgrind_control -i on "$cg_pid" >/dev/null || fail "callgrind_control -i on failed"
    timeout 600 curl -sf --config "$work/load.curl" || fail "$system: requests failed"
    HOSTNAME=bench callgrind_control -d "$cg_pid" >/dev/null || fail "callgrind_control -d failed"
    dump=""
    for f in "$cg_out".*; do
        case $f in *.log) ;; *) [ -f "$f" ] && dump=$f && break ;; esac
    done
    [ -n "$dump" ] || fail "callgrind wrote no profile (see $cg_out.log)"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    record "instr_per_request_$middle" "$(awk -v t="$total" -v n="$instr" 'BEGIN {printf "%d", t / n}')"
    if [ -n "${BENCH_CALLGRIND:-}" ]; then
        mkdir -p "$BENCH_CALLGRIND" && cp "$dump" "$BENCH_CALLGRIND/callgrind.out.$system.$rep"
    fi
}

# measure : the processes of $system are up; idle RSS, load at each count, RSS and CPU after.
measure() {
    for n in $procs; do eval "record rss_idle_kib_$n \$(rss_kib \$pid_$n)"; done
    ticks0=0
    for n in $procs; do eval "ticks0=\$((ticks0 + \$(cpu_ticks \$pid_$n)))"; done
    total_requests=0
    for c in $conns; do load "$c"; done
    ticks1=0
    for n in $procs; do eval "ticks1=\$((ticks1 + \$(cpu_ticks \$pid_$n)))"; done
    for n in $procs; do eval "record rss_load_kib_$n \$(rss_kib \$pid_$n)"; done
    record cpu_s_per_10k "$(awk -v t=$((ticks1 - ticks0)) -v hz="$tick" -v n="$total_requests" \
        'BEGIN {printf "%.3f", t / hz / n * 10000}')"
}

# start_hops bare|probe : the three hops of a bench-only chain (bare-chain or probe), last hop first.
start_hops() {
    middle=$1_pref
    start "$1_rec" "$p_rec" / NAME=recommendation
    start "$1_pref" "$p_pref" / NAME=preference NEXT_URL="http://127.0.0.1:$p_rec/"
    start "$1_cust" "$p_cust" / NAME=customer NEXT_URL="http://127.0.0.1:$p_pref/"
    procs="$1_cust $1_pref $1_rec" url="http://127.0.0.1:$p_cust/"
}

run_system() {
    case $system in
        bare | probe) start_hops "$system" ;;
        chain | chain-warn | chain-w2 | chain-nocolor | chain-mimalloc | chain-alt)
            # knobs: one extra VAR=value for every service (a harmless one when none)
            knob=BENCH_SYSTEM=$system
            case $system in
                chain-warn) knob=RUST_LOG=warn ;;
                chain-w2) knob=WORKERS=2 ;;
                chain-nocolor) knob=NO_COLOR=1 ;;
                chain-mimalloc)
                    lib=${BENCH_MIMALLOC:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
                    [ -f "$lib" ] || fail "$lib is missing (apt-get install libmimalloc2.0)"
                    knob=LD_PRELOAD=$lib
                    ;;
            esac
            middle=preference
            start recommendation "$p_rec" / RUST_LOG=info "$knob"
            start preference "$p_pref" / RUST_LOG=info "$knob" RECOMMENDATION_URL="http://127.0.0.1:$p_rec"
            start customer "$p_cust" / RUST_LOG=info "$knob" PREFERENCE_URL="http://127.0.0.1:$p_pref"
            procs="customer preference recommendation" url="http://127.0.0.1:$p_cust/"
            ;;
        rec)
            [ "$instr" -eq 0 ] || fail "-I needs systems with a middle hop (not rec)"
            start recommendation "$p_rec" / RUST_LOG=info
            procs="recommendation" url="http://127.0.0.1:$p_rec/"
            ;;
        v3)
            middle=preference
            start time "$p_time" /api/json/cet/now RUST_LOG=warn STANDIN_NOW=2020-04-06T18:31+02:00
            start recommendation "$p_rec" / RUST_LOG=info RECOMMENDATION_VERSION=v3 \
                WORLDCLOCK_URL="http://127.0.0.1:$p_time/api/json/cet/now"
            start preference "$p_pref" / RECOMMENDATION_URL="http://127.0.0.1:$p_rec"
            start customer "$p_cust" / PREFERENCE_URL="http://127.0.0.1:$p_pref"
            procs="customer preference recommendation time" url="http://127.0.0.1:$p_cust/"
            ;;
        *) fail "unknown system $system (see --help)" ;;
    esac
    # The services' logs go to first-200's /dev/null; only the measurement matters here.
    body=$(curl -s --max-time 5 "$url" || true)
    case $body in *"recommendation v"*) ;; *) fail "$system answered: $body" ;; esac
    if [ "$instr" -gt 0 ]; then
        count_instructions
        stop_all
        return
    fi
    if [ -n "${soaking:-}" ]; then
        soak_run
    else
        measure
    fi
    stop_all
}

# soak_run : fresh processes of $system; RSS after 1 s under 32 connections, then after $soak s more.
soak_run() {
    printf 'bench.sh: soak %ss on %s\n' "$soak" "$system" >&2
    timeout 20 wrk -t"$wrk_threads" -c32 -d1s "$url" >"$work/soak.txt" 2>&1 || fail "wrk failed: $(cat "$work/soak.txt")"
    for n in $procs; do eval "record rss_1s_kib_$n \$(rss_kib \$pid_$n)"; done
    timeout $((soak + 15)) wrk -t"$wrk_threads" -c32 -d"${soak}s" "$url" >"$work/soak.txt" 2>&1 ||
        fail "wrk failed: $(cat "$work/soak.txt")"
    soak_requests=$(awk '/requests in/ {print $1}' "$work/soak.txt")
    soak_errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$work/soak.txt")
    for n in $procs; do eval "record rss_soak_kib_$n \$(rss_kib \$pid_$n)"; done
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)
rep=1
while [ "$rep" -le "$reps" ]; do
    for system in $systems; do
        printf 'bench.sh: rep %s/%s %s\n' "$rep" "$reps" "$system" >&2
        run_system
    done
    rep=$((rep + 1))
done
if [ "$soak" -gt 0 ] && [ "$instr" -eq 0 ]; then
    for system in $systems; do
        case $system in chain*) soaked=$system soaking=1 rep=soak; run_system; break ;; esac
    done
fi
load_after=$(cut -d' ' -f1 /proc/loadavg)

# Median and spread of every figure, as Markdown.
summary=$work/summary.tsv
# The soak's own records (repetition "soak") are reported apart.
sort -t"$(printf '\t')" -k2,2 -k3,3 -k4,4g "$raw" | awk -F'\t' '
    $1 != "soak" { key = $2 "\t" $3; v[key, ++n[key]] = $4; keys[key] = 1 }
    END {
        for (k in keys) {
            c = n[k]; med = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
            printf "%s\t%s\t%s\t%s\n", k, med, v[k, 1], v[k, c]
        }
    }' >"$summary"

fig() { # fig SYSTEM KEY -> "median (min-max)"
    awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == k {
        if ($4 == $5) printf "%g", $3; else printf "%g (%g-%g)", $3, $4, $5; found = 1 }
        END { if (!found) printf "-" }' "$summary"
}
# pair_ratio SYSTEM KEY -> "median (min-max)" of SYSTEM / bare over the repetitions, each from one pair.
# An optional third argument names bare's key when it differs.
pair_ratio() {
    awk -F'\t' -v s="$1" -v k="$2" -v bk="${3:-$2}" '
        $1 == "soak" { next }
        $3 == k && $2 == s { a[$1] = $4 }
        $3 == bk && $2 == "bare" { b[$1] = $4 }
        END {
            for (r in a) if ((r in b) && b[r] > 0) x[++n] = a[r] / b[r]
            if (n == 0) { printf "-"; exit }
            for (i = 2; i <= n; i++) { v = x[i]; for (j = i - 1; j > 0 && x[j] > v; j--) x[j + 1] = x[j]; x[j + 1] = v }
            m = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
            if (n == 1) printf "%.2f", m; else printf "%.2f (%.2f-%.2f)", m, x[1], x[n]
        }' "$raw"
}

report_head() {
    printf '## Run of %s\n\n' "$started"
    bt='`'
    printf 'Command: %s%s%s (-d %s -r %s -c "%s" -s "%s")  \n' "$bt" "$command_line" "$bt" "$duration" "$reps" \
        "$conns" "$systems"
    printf 'Machine: %s cores (%s), load average %s before, %s after.\n' "$(nproc)" \
        "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$load_before" "$load_after"
}

instr_report() {
    printf 'Instructions per request (callgrind Ir, user space) of the middle hop over %s sequential keep-alive\n' \
        "$instr"
    printf 'requests after 200 warm-up ones; median of %s repetitions.\n\n' "$reps"
    printf '| system | process | instructions per request | / bare |\n|---|---|---|---|\n'
    for system in $systems; do
        key=$(awk -F'\t' -v s="$system" '$1 == s && $2 ~ /^instr_per_request_/ {print $2; exit}' "$summary")
        printf '| %s | %s | %s | %s |\n' "$system" "${key#instr_per_request_}" "$(fig "$system" "$key")" \
            "$(pair_ratio "$system" "$key" instr_per_request_bare_pref)"
    done
}

wrk_report() {
    printf 'Median of %s repetitions, spread (min-max) in brackets. Latencies in ms, RSS in KiB.\n\n' "$reps"
    printf '| system | conns | req/s | p50 | p99 | max | errors |\n|---|---|---|---|---|---|---|\n'
    for system in $systems; do
        for c in $conns; do
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$system" "$c" "$(fig "$system" "rps_c$c")" \
                "$(fig "$system" "p50_c$c")" "$(fig "$system" "p99_c$c")" "$(fig "$system" "max_c$c")" \
                "$(fig "$system" "errors_c$c")"
        done
    done
    printf '\n| system | process | start to first 200 (ms) | idle RSS | RSS after load |\n|---|---|---|---|---|\n'
    for system in $systems; do
        awk -F'\t' -v s="$system" '$1 == s && $2 ~ /^start_ms_/ {sub("start_ms_", "", $2); print $2}' "$summary" |
            while read -r p; do
                printf '| %s | %s | %s | %s | %s |\n' "$system" "$p" "$(fig "$system" "start_ms_$p")" \
                    "$(fig "$system" "rss_idle_kib_$p")" "$(fig "$system" "rss_load_kib_$p")"
            done
    done
    if [ -n "${soaked:-}" ]; then
        printf '\nSoak: %s, fresh processes under 32 connections: 1 s, then %s s more (%s requests, %s errors).\n\n' \
            "$soaked" "$soak" "$soak_requests" "$soak_errors"
        printf '| process | RSS after 1 s | RSS after soak | growth |\n|---|---|---|---|\n'
        awk -F'\t' -v s="$soaked" '$1 == "soak" && $2 == s && $3 ~ /^rss_(1s|soak)_kib_/ {
                split($3, k, "_kib_"); v[k[2], k[1]] = $4; p[k[2]] = 1 }
            END { for (n in p) printf "| %s | %d | %d | %+d KiB (%+.1f %%) |\n", n, v[n, "rss_1s"], v[n, "rss_soak"],
                  v[n, "rss_soak"] - v[n, "rss_1s"], (v[n, "rss_soak"] - v[n, "rss_1s"]) * 100 / v[n, "rss_1s"] }' "$raw"
    fi
    printf '\n| system | CPU s per 10k requests |\n|---|---|\n'
    for system in $systems; do printf '| %s | %s |\n' "$system" "$(fig "$system" cpu_s_per_10k)"; done
    case " $systems " in *" bare "*)
        printf '\n| system / bare | conns | req/s ratio | p99 ratio |\n|---|---|---|---|\n'
        for system in $systems; do
            [ "$system" = bare ] && continue
            case $system in chain* | probe) ;; *) continue ;; esac
            for c in $conns; do
                printf '| %s | %s | %s | %s |\n' "$system" "$c" "$(pair_ratio "$system" "rps_c$c")" \
                    "$(pair_ratio "$system" "p99_c$c")"
            done
        done
        printf '\nRatios: median (min-max) over the %s repetitions of each repetition'"'"'s pair, measured back to back.\n' \
            "$reps"
        ;;
    esac
}

{
    report_head
    if [ "$instr" -gt 0 ]; then instr_report; else wrk_report; fi
} >"$work/report.md"
cat "$work/report.md"
if [ -n "$out" ]; then cp "$work/report.md" "$out"; fi
if [ -n "${BENCH_RAW:-}" ]; then cp "$raw" "$BENCH_RAW"; fi
