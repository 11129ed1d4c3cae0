// Command bench is the load benchmark of the workspace server.
//
// It builds and starts `workspace serve` on a fresh SQLite file or a fresh
// PostgreSQL database (or targets a running server with -url), creates users
// through the API, seeds data in bulk through SQL, then runs fixed-duration
// scenarios with N concurrent keep-alive clients, each with its own bearer
// token. In the same run it measures the raw database doing the same INSERT
// and page SELECT without HTTP, through the same driver and settings, and
// reports requests/s, latency percentiles, errors, API ÷ raw ratios and the
// server's peak RSS, as Markdown (stdout, -md) and JSON (-json).
//
//	go run ./bench -engine sqlite
//	go run ./bench -engine postgres -duration 5s -json pg.json -md pg.md
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// DefaultPostgresAdmin is the admin connection used to create and drop the
// run's database.
const DefaultPostgresAdmin = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

type options struct {
	engine        string
	duration      time.Duration
	messages      int
	smallMessages int
	conversations int
	events        int
	lots          int
	concurrency   int
	flood         int
	bcryptCost    int
	jsonPath      string
	mdPath        string
	url           string
	db            string
	pid           int
	pgAdmin       string
	bin           string
	keep          bool
	compareSizes  bool
	halfRate      bool
	only          map[string]bool // scenarios to run; nil: all
	serverEnv     []string        // -server-env: Go runtime settings for the server only
}

// runs reports whether the scenario name was selected with -only.
func (o options) runs(name string) bool { return o.only == nil || o.only[name] }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgAdmin := os.Getenv("WORKSPACE_TEST_POSTGRES")
	if pgAdmin == "" {
		pgAdmin = DefaultPostgresAdmin
	}
	fs.StringVar(&o.engine, "engine", "sqlite", "database engine of the server: sqlite or postgres")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration of each scenario")
	fs.IntVar(&o.messages, "messages", 1_000_000, "messages to seed")
	fs.IntVar(&o.smallMessages, "small-messages", 10_000, "messages of the small database that -compare-sizes reads")
	fs.IntVar(&o.conversations, "conversations", 1000, "channels the messages are spread over (at most messages/100)")
	fs.IntVar(&o.events, "events", 10_000, "calendar events to seed")
	fs.IntVar(&o.lots, "lots", 10_000, "lots to seed")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients, each with its own user and token")
	fs.IntVar(&o.flood, "flood", 4, "goroutines logging in in a loop beside the mix in the login-flood scenario")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 12, "BCRYPT_COST of the server it starts")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&o.mdPath, "md", "", "write the results as Markdown to `FILE`")
	fs.StringVar(&o.url, "url", "", "target a running server (http://127.0.0.1:PORT) instead of starting one; needs -db")
	fs.StringVar(&o.db, "db", "", "with -url: the server's database (SQLite file path or postgres:// DSN) for seeding and the raw baseline")
	fs.IntVar(&o.pid, "pid", 0, "with -url: the server's process id, to report its peak RSS")
	fs.StringVar(&o.pgAdmin, "pg-admin", pgAdmin, "PostgreSQL admin DSN used to create and drop the run's database (env WORKSPACE_TEST_POSTGRES)")
	fs.StringVar(&o.bin, "bin", "", "workspace binary to run (default: go build ./cmd/workspace into a temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the database (and temp dir) after the run")
	fs.BoolVar(&o.compareSizes, "compare-sizes", true, "also measure the page read on a database of -small-messages messages and report the p50 ratio (not with -url)")
	fs.BoolVar(&o.halfRate, "half-rate", true, "re-run each read scenario paced at half its measured peak rate")
	serverEnv := fs.String("server-env", "", "comma-separated Go runtime settings for the server it starts, and not the load generator (e.g. GOGC=1600,GOMEMLIMIT=off; keys: "+strings.Join(serverEnvKeys, ", ")+")")
	only := fs.String("only", "", "comma-separated scenarios to run (send,page,conversations,calendar,lot,mix; the login flood runs with mix, the size comparison with page); default all")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			if !slices.Contains([]string{"send", "page", "conversations", "calendar", "lot", "mix"}, name) {
				return o, fmt.Errorf("-only: unknown scenario %q", name)
			}
			o.only[name] = true
		}
	}
	env, err := parseServerEnv(*serverEnv)
	if err != nil {
		return o, err
	}
	o.serverEnv = env
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.engine != "sqlite" && o.engine != "postgres":
		return o, fmt.Errorf("-engine %q: use sqlite or postgres", o.engine)
	case o.duration <= 0 || o.duration > time.Hour:
		return o, errors.New("-duration must be in (0, 1h]")
	case o.messages < 100 || o.messages > 100_000_000:
		return o, errors.New("-messages must be in [100, 100000000]")
	case o.smallMessages < 100:
		return o, errors.New("-small-messages must be at least 100")
	case o.concurrency < 1 || o.concurrency > 1000:
		return o, errors.New("-concurrency must be in [1, 1000]")
	case o.flood < 0 || o.flood > 64:
		return o, errors.New("-flood must be in [0, 64]")
	case o.events < 0 || o.lots < 0 || o.conversations < 1:
		return o, errors.New("-events and -lots must be ≥ 0, -conversations ≥ 1")
	}
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || u.Scheme != "http" {
			return o, fmt.Errorf("-url %q: want http://127.0.0.1:PORT", o.url)
		}
		if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
			return o, fmt.Errorf("-url %q: only 127.0.0.1 is ever targeted", o.url)
		}
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
		o.url = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
		if o.db == "" {
			return o, errors.New("-url needs -db (the server's SQLite file or postgres:// DSN) to seed and to measure the raw baseline")
		}
		o.engine = "sqlite"
		if strings.HasPrefix(o.db, "postgres://") || strings.HasPrefix(o.db, "postgresql://") {
			o.engine = "postgres"
		}
		if o.serverEnv != nil {
			return o, errors.New("-server-env: with -url the bench starts no server; set the running server's environment instead")
		}
		o.db = strings.TrimPrefix(o.db, "sqlite://")
		o.compareSizes = false
	}
	return o, nil
}

// run is the whole program, testable.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{opts: o, log: stderr, started: time.Now()}
	defer b.cleanup()

	if o.url == "" && o.bin == "" {
		dir, err := os.MkdirTemp("", "workspace-bench-bin-")
		if err != nil {
			return err
		}
		b.defer_(func() { os.RemoveAll(dir) })
		b.logf("building workspace …")
		if o.bin, err = buildServer(ctx, dir); err != nil {
			return err
		}
		b.opts.bin = o.bin
	}

	main, err := b.setup(ctx, o.messages, o.bcryptCost, true)
	if err != nil {
		return err
	}
	results, err := b.runAll(ctx, main)
	if err != nil {
		return err
	}
	rep := &report{
		Engine: o.engine, Messages: o.messages, Concurrency: o.concurrency, Duration: o.duration,
		Flood: o.flood, BcryptCost: o.bcryptCost, Results: results, PeakRSSKB: main.peakRSS(),
		SmallMessages: o.smallMessages, Started: b.started, Vacuumed: b.vacuumed,
	}
	if o.url != "" {
		rep.BcryptCost = 0 // the running server's own
	}
	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.mdPath != "" {
		if err := os.WriteFile(o.mdPath, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if o.jsonPath != "" {
		js, err := rep.json()
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, js, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bench holds the run's state and what to undo at the end.
type bench struct {
	opts    options
	log     io.Writer
	started time.Time
	undo    []func()

	// vacuumed: the PostgreSQL server has autovacuum off and the run
	// vacuumed between scenarios instead (rawDB.settle).
	vacuumed bool
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%7.1fs  %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// defer_ registers fn to run at the end of the run, last registered first.
func (b *bench) defer_(fn func()) { b.undo = append(b.undo, fn) }

func (b *bench) cleanup() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
}

// target is one server under test and its database.
type target struct {
	engine   string
	base     string // http://127.0.0.1:PORT
	dsn      string // SQLite file or PostgreSQL DSN
	server   *server
	pid      int
	users    []*user // one per client
	flooder  *user
	convs    int
	messages int
	year     int // the calendar year events are seeded in

	fastOnce sync.Once
	fast     *fasthttp.HostClient // measured requests (worker.request)
}

// fastClient returns the target's keep-alive client for measured requests.
func (t *target) fastClient() *fasthttp.HostClient {
	t.fastOnce.Do(func() {
		u, _ := url.Parse(t.base)
		t.fast = &fasthttp.HostClient{
			Addr:                          u.Host,
			MaxConns:                      512,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			MaxIdleConnDuration:           90 * time.Second,
		}
	})
	return t.fast
}

// peakRSS returns the server's VmHWM in KiB, or 0 if unknown.
func (t *target) peakRSS() int64 {
	if t.pid == 0 {
		return 0
	}
	return readVmHWM(t.pid)
}

// setup prepares a database, starts (or finds) the server, creates the users
// and seeds the data.
func (b *bench) setup(ctx context.Context, messages, bcryptCost int, full bool) (*target, error) {
	o := b.opts
	t := &target{engine: o.engine, messages: messages, convs: max(1, min(o.conversations, messages/100))}
	if o.url != "" {
		t.base, t.dsn, t.pid = o.url, o.db, o.pid
	} else {
		dir, err := os.MkdirTemp("", "workspace-bench-")
		if err != nil {
			return nil, err
		}
		b.defer_(func() {
			if o.keep {
				b.logf("kept %s", dir)
				return
			}
			os.RemoveAll(dir)
		})
		if o.engine == "sqlite" {
			t.dsn = filepath.Join(dir, "workspace.db")
		} else {
			dsn, drop, err := createDatabase(ctx, o.pgAdmin)
			if err != nil {
				return nil, err
			}
			t.dsn = dsn
			b.defer_(func() {
				if o.keep {
					b.logf("kept database %s", redact(dsn))
					return
				}
				if err := drop(); err != nil {
					b.logf("drop database: %v", err)
				}
			})
		}
		b.logf("starting workspace serve (%s, %d messages)", o.engine, messages)
		srv, err := startServer(ctx, o.bin, dir, t.dsn, bcryptCost, o.serverEnv)
		if err != nil {
			return nil, err
		}
		b.defer_(func() {
			if err := srv.stop(); err != nil {
				b.logf("server: %v", err)
			}
		})
		t.server, t.base, t.pid = srv, srv.base, srv.cmd.Process.Pid
	}
	c := newHTTPClient(o.concurrency + o.flood)
	b.logf("creating %d users through the API (register + login)", o.concurrency+1)
	if err := createUsers(ctx, c, t, o.concurrency, b.opts.url != ""); err != nil {
		return nil, err
	}
	seedStart := time.Now()
	sz := sizes{messages: messages, convs: t.convs}
	if full {
		sz.events, sz.lots = o.events, o.lots
	}
	b.logf("seeding %d messages in %d conversations, %d events, %d lots through SQL", sz.messages, sz.convs, sz.events, sz.lots)
	year, err := seed(ctx, t.engine, t.dsn, t.users, sz)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	t.year = year
	b.logf("seeded in %.1fs", time.Since(seedStart).Seconds())
	return t, nil
}

// buildServer builds ./cmd/workspace of the module the working directory is
// in.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("cannot find the workspace module: run from inside it or pass -bin")
	}
	bin := filepath.Join(dir, "workspace")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/workspace")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/workspace: %v\n%s", err, out)
	}
	return bin, nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// server is a `workspace serve` child process.
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	done    chan error
}

// startServer runs the binary on 127.0.0.1 and a free port with a fresh
// configuration, and waits until /readyz answers 200.
func startServer(ctx context.Context, bin, dir, dsn string, bcryptCost int, env []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := rand.Text() + rand.Text() // 2 × 130 random bits
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"API_HOST=127.0.0.1",
		fmt.Sprintf("API_PORT=%d", port),
		"DATA_DIR=" + dir,
		"DATABASE_URL=" + dsn,
		"JWT_SECRET=" + secret,
		fmt.Sprintf("BCRYPT_COST=%d", bcryptCost),
		"ALLOW_REGISTRATION=true",
		"LOG_LEVEL=info",
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+v)
	}
	cmd.Env = append(cmd.Env, env...) // after: -server-env GOMAXPROCS=… wins
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	c := newHTTPClient(1)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := c.Get(s.base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("workspace serve exited: %v\n%s", err, tail(logPath, 20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("workspace serve not ready after 2 minutes\n%s", tail(logPath, 20))
		}
	}
}

// serverEnvKeys are the settings -server-env may give the server: the Go
// runtime's, to try the server under other ones without a rebuild. They
// reach the server alone, not the load generator, so a comparison changes
// one side only (GOGC in the bench's own environment would change both).
// The server's own configuration is the bench's to choose.
var serverEnvKeys = []string{"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"}

// parseServerEnv reads -server-env: KEY=VALUE pairs separated by commas.
func parseServerEnv(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var env []string
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || !slices.Contains(serverEnvKeys, k) {
			return nil, fmt.Errorf("-server-env %q: want KEY=VALUE with KEY one of %s", kv, strings.Join(serverEnvKeys, ", "))
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// stop sends SIGTERM, waits for the graceful shutdown, then kills.
func (s *server) stop() error {
	select {
	case err := <-s.done:
		s.done <- err
		return nil
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("exited: %v\n%s", err, tail(s.logPath, 10))
		}
		return nil
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.done <- <-s.done
		return errors.New("killed after 30 s without shutting down")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// readVmHWM returns a process's peak resident set size in KiB (0 if unknown).
func readVmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
