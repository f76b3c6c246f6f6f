# tests/api/lib.sh: requests on ember's API socket with curl, for the test
# groups that drive the API (sourced after tests/lib.sh; $EMBER is ember).

# api SOCK METHOD PATH [BODY]: one request; prints the status code, then the
# body, on stdout.
api() {
	local sock=$1 method=$2 path=$3 body=${4:-}
	local args=(-sS --unix-socket "$sock" -X "$method" -o "$T_TMP/resp" -w '%{http_code}'
		    --max-time 30 "http://localhost$path")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
	local code
	rm -f "$T_TMP/resp" # curl writes no file for an empty body
	code=$(curl "${args[@]}") || return 1
	echo "$code"
	cat "$T_TMP/resp" 2>/dev/null
	echo
}

# expect_api WANT-CODE BODY-PATTERN SOCK METHOD PATH [BODY]
expect_api() {
	local want=$1 pat=$2 out
	shift 2
	out=$(api "$@") || { echo "curl failed: $*"; return 1; }
	local code=${out%%$'\n'*} body=
	[[ $out == *$'\n'* ]] && body=${out#*$'\n'}
	if [ "$code" != "$want" ] || ! grep -Eq -- "$pat" <<<"$body"; then
		echo "$* -> $code $body (want $want /$pat/)"
		return 1
	fi
}

# start_api SOCK [ARGS...]: ember serving SOCK in the background; sets $pid.
start_api() {
	local sock=$1
	shift
	: >"$T_TMP/err"
	"$EMBER" --api-sock "$sock" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	pid=$!
	wait_for_socket "$sock" $pid || { cat "$T_TMP/err"; return 1; }
}

# wait_running SOCK PID: wait (bounded, 60 s) until GET / says Running (a VM
# the command line describes is built after the socket listens).
wait_running() {
	local _
	for _ in $(seq 1 600); do
		api "$1" GET / 2>/dev/null | grep -q '"state":"Running"' && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "the VM on $1 is not running"
	return 1
}
