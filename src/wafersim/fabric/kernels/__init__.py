"""The kernel library: each kernel builds one Program and runs on either engine (see registry.run_kernel)."""
