// Simple dual-port RAM: one write port and one synchronous read port with its
// data registered, the shape block RAM and UltraRAM both take. A read and a
// write of one address in one cycle read the old word (any word where READ_OLD = 0, below),
// unless WRITE_FIRST = 1:
// then they read the word being written (the written word and both addresses registered,
// compared as the word comes out), which is what a pipeline needs
// when a younger operation reads what the one just ahead of it writes.
// rdata's two sources come out apart too (read_word: the array's word; read_written: rdata is
// written_word), so a caller can register the array's word with no logic behind the RAM's
// clock-to-output and choose after its flip-flops.
//
// WRITE_REG = 1 (with WRITE_FIRST = 1) registers the write before the array takes it, so the logic
// that decides a write ends at flip-flops, not at the RAM's data inputs across the die. The array
// then holds a write a cycle later; a read meets it as it does a write of its own cycle (both
// compared as the word comes out), so rdata is as without the register.
//
// Block RAM's two ports do not promise the old word to a read of the address the other port writes
// in the same cycle, so synthesis keeps it with registers and a multiplexer behind the RAM's output.
// READ_OLD = 0 says the caller never uses the word so read: the array is then marked
// no_rw_check and has none.
//
// SELECT_COPIES = n (with WRITE_FIRST = 1) keeps n copies of the registered addresses and their
// compares, each choosing the written word for its n-th of the bits (read_written has a bit per
// copy, the first copy's first), kept apart in synthesis: one compare whose select fans out to a
// wide word's multiplexers across the die would wait on that route; each copy is placed by its bits.
// Each copy takes ceil(WIDTH / n) bits, so n must leave the last copy some: Icarus refuses a
// WIDTH and n that do not (reversed part-selects), Yosys only warns.
//
// SLICE_WIDTH = n builds the array as arrays n bits wide side by side (0: one array). A block RAM
// deeper than its widest shape holds is otherwise built by Yosys from blocks of a wider, shallower
// shape, stacked, with a multiplexer behind their outputs; arrays as narrow as one block's shape
// at that depth (ECP5 and RAMB18: 4 bits at 4096 words) each take blocks of that shape, and the
// read data leave them with nothing in front.
//
// ULTRA = 1 marks the array ram_style "ultra", so Vivado (and Yosys'
// synth_xilinx -family xcup) put it in UltraRAM on UltraScale+ parts; 0 leaves
// the choice to the tool, which picks block RAM at these sizes.

module sdp_ram #(
    parameter WIDTH = 8,
    parameter DEPTH = 16,
    parameter ULTRA = 0,
    parameter WRITE_FIRST = 0,
    parameter READ_OLD = 1,
    parameter WRITE_REG = 0,
    parameter SLICE_WIDTH = 0,
    parameter SELECT_COPIES = 1,
    parameter ADDR_WIDTH = DEPTH > 1 ? $clog2(DEPTH) : 1
) (
    input  wire                  clk,
    input  wire                  we,
    input  wire [ADDR_WIDTH-1:0] waddr,
    input  wire [WIDTH-1:0]      wdata,
    input  wire                  re,
    input  wire [ADDR_WIDTH-1:0] raddr,
    output wire [WIDTH-1:0]      rdata,
    output wire [WIDTH-1:0]      read_word,
    output wire [SELECT_COPIES-1:0] read_written,
    output wire [WIDTH-1:0]      written_word
);

localparam SLICE = SLICE_WIDTH == 0 || SLICE_WIDTH > WIDTH ? WIDTH : SLICE_WIDTH;
localparam SLICES = (WIDTH + SLICE - 1) / SLICE;
localparam COPY_BITS = (WIDTH + SELECT_COPIES - 1) / SELECT_COPIES;  // the bits each select copy chooses
// the array's word, and the write it takes, padded to whole slices
wire [SLICES*SLICE-1:0] mem_rdata;
// the write the array takes: the caller's, or the one registered a cycle ago (WRITE_REG)
wire                    array_we;
wire [ADDR_WIDTH-1:0]   array_waddr;
wire [WIDTH-1:0]        array_wdata;
wire [SLICES*SLICE-1:0] slice_wdata = array_wdata;

// each slice's array and ports; the array is declared in one of four blocks, for its attributes
// (separate ifs, not an else-if chain, which would nest the blocks' names)
`define SDP_RAM_PORTS \
        always @(posedge clk) begin \
            if (array_we) \
                mem[array_waddr] <= slice_wdata[s*SLICE +: SLICE]; \
            if (re) \
                slice_rdata <= mem[raddr]; \
        end
genvar s;
generate
    for (s = 0; s < SLICES; s = s + 1) begin : g_slice
        reg [SLICE-1:0] slice_rdata;
        assign mem_rdata[s*SLICE +: SLICE] = slice_rdata;
        if (ULTRA && READ_OLD) begin : g_ultra
            (* ram_style = "ultra" *) reg [SLICE-1:0] mem [0:DEPTH-1];
            `SDP_RAM_PORTS
        end
        if (ULTRA && !READ_OLD) begin : g_ultra_any
            (* ram_style = "ultra", no_rw_check *) reg [SLICE-1:0] mem [0:DEPTH-1];
            `SDP_RAM_PORTS
        end
        if (!ULTRA && READ_OLD) begin : g_block
            reg [SLICE-1:0] mem [0:DEPTH-1];
            `SDP_RAM_PORTS
        end
        if (!ULTRA && !READ_OLD) begin : g_block_any
            (* no_rw_check *) reg [SLICE-1:0] mem [0:DEPTH-1];
            `SDP_RAM_PORTS
        end
    end
`undef SDP_RAM_PORTS
    if (WRITE_REG) begin : g_write_reg
        reg                  held_we = 1'b0;
        reg [ADDR_WIDTH-1:0] held_waddr;
        reg [WIDTH-1:0]      held_wdata;
        always @(posedge clk) begin
            held_we <= we;
            held_waddr <= waddr;
            held_wdata <= wdata;
        end
        assign array_we = held_we;
        assign array_waddr = held_waddr;
        assign array_wdata = held_wdata;
    end else begin : g_write_now
        assign array_we = we;
        assign array_waddr = waddr;
        assign array_wdata = wdata;
    end
    if (WRITE_FIRST) begin : g_write_first
        // the read's and the writes' addresses registered with the read, compared as the word
        // comes out (beside the RAM's clock-to-output), not behind the logic that chose them:
        // the caller's write, and the array's where that is the one registered a cycle before
        reg [WIDTH-1:0]                    written_data, held_data;
        reg [SELECT_COPIES-1:0]            written, held;
        reg [SELECT_COPIES*ADDR_WIDTH-1:0] read_addr, written_addr, held_addr;
        always @(posedge clk) begin
            if (re) begin
                written_data <= wdata;
                held_data <= array_wdata;
            end
        end
        // one copy without keep, so Yosys may still merge it with equal registers as before; copies
        // with it, else opt_merge makes them one again
        if (SELECT_COPIES == 1) begin : g_select
            always @(posedge clk) begin
                if (re) begin
                    written <= we;
                    read_addr <= raddr;
                    written_addr <= waddr;
                    held <= WRITE_REG && array_we;
                    held_addr <= array_waddr;
                end
            end
        end else begin : g_select_copies
            integer c;
            (* keep *) always @(posedge clk) begin
                if (re) begin
                    for (c = 0; c < SELECT_COPIES; c = c + 1) begin
                        written[c] <= we;
                        read_addr[c*ADDR_WIDTH +: ADDR_WIDTH] <= raddr;
                        written_addr[c*ADDR_WIDTH +: ADDR_WIDTH] <= waddr;
                        held[c] <= WRITE_REG && array_we;
                        held_addr[c*ADDR_WIDTH +: ADDR_WIDTH] <= array_waddr;
                    end
                end
            end
        end
        genvar c;
        for (c = 0; c < SELECT_COPIES; c = c + 1) begin : g_copy
            localparam LO = c * COPY_BITS;
            localparam HI = (c + 1) * COPY_BITS > WIDTH ? WIDTH : (c + 1) * COPY_BITS;
            wire [ADDR_WIDTH-1:0] copy_read_addr = read_addr[c*ADDR_WIDTH +: ADDR_WIDTH];
            wire read_new = written[c] && written_addr[c*ADDR_WIDTH +: ADDR_WIDTH] == copy_read_addr;
            assign read_written[c] = read_new || (held[c] && held_addr[c*ADDR_WIDTH +: ADDR_WIDTH] == copy_read_addr);
            assign written_word[HI-1:LO] = read_new ? written_data[HI-1:LO] : held_data[HI-1:LO];
            assign rdata[HI-1:LO] = read_written[c] ? written_word[HI-1:LO] : read_word[HI-1:LO];
        end
    end else begin : g_read_first
        assign read_written = {SELECT_COPIES{1'b0}};
        assign written_word = {WIDTH{1'b0}};
        assign rdata = read_word;
    end
endgenerate

assign read_word = mem_rdata[WIDTH-1:0];

endmodule
