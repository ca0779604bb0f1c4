// Feed handler control and status registers on AXI4-Lite.
//
// The register map comes from feed_csr_map.vh, generated from host/schema/csr.py.
// Configuration registers drive cfg_*; status registers read status_*
// (32 bits each, in STATUS_* order); counter k adds stat_inc[32k+31:32k]
// (registered first, so an increment counts the cycle after its strobe) and
// reads at CSR_COUNTER_BASE + 4k. Unmapped addresses read 0 and ignore
// writes; every access answers OKAY. One read and one write are served at a
// time: a write in one cycle, a read in four (address decoded; each group's
// pick; select; sum), each plus the response handshake.
//
// Short paths: each counter is two 16-bit halves; the low half's carry and
// the increment's high half reach the high half a cycle later, so no adder is
// wider than 17 bits. A read selects a counter's halves and pending high-half
// increment in one cycle and adds them in the next, so it returns the exact
// count of the cycle it selected.

module feed_csr #(
    parameter ADDR_WIDTH = 12,
    parameter COUNTER_COUNT = 47,
    parameter STATUS_COUNT = 5
) (
    input  wire                        clk,
    input  wire                        rst,

    input  wire [ADDR_WIDTH-1:0]       s_axil_awaddr,
    input  wire [2:0]                  s_axil_awprot,
    input  wire                        s_axil_awvalid,
    output wire                        s_axil_awready,
    input  wire [31:0]                 s_axil_wdata,
    input  wire [3:0]                  s_axil_wstrb,
    input  wire                        s_axil_wvalid,
    output wire                        s_axil_wready,
    output wire [1:0]                  s_axil_bresp,
    output reg                         s_axil_bvalid,
    input  wire                        s_axil_bready,
    input  wire [ADDR_WIDTH-1:0]       s_axil_araddr,
    input  wire [2:0]                  s_axil_arprot,
    input  wire                        s_axil_arvalid,
    output wire                        s_axil_arready,
    output reg  [31:0]                 s_axil_rdata,
    output wire [1:0]                  s_axil_rresp,
    output reg                         s_axil_rvalid,
    input  wire                        s_axil_rready,

    output reg                         cfg_enable,
    output reg  [31:0]                 cfg_dest_ip,
    output reg  [15:0]                 cfg_dest_port,

    input  wire [STATUS_COUNT*32-1:0]  status,
    input  wire [COUNTER_COUNT*32-1:0] stat_inc
);

`include "feed_csr_map.vh"

initial begin
    if (ADDR_WIDTH != CSR_ADDR_WIDTH || COUNTER_COUNT != CSR_COUNTER_COUNT
            || STATUS_COUNT != CSR_STATUS_COUNT) begin
        $error("feed_csr: parameters must match feed_csr_map.vh");
        $finish;
    end
end

reg [COUNTER_COUNT*32-1:0] inc;          // stat_inc, registered
wire [COUNTER_COUNT*32-1:0] counts;     // {high half, low half} of each counter
wire [COUNTER_COUNT*17-1:0] pendings;   // its high half's pending increment

// A write is taken when address and data are both there and no response waits.
wire write_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid;
assign s_axil_awready = write_fire;
assign s_axil_wready = write_fire;
assign s_axil_bresp = 2'b00;

// Read pipeline: counter_hit, register_hit (the address taken, decoded one-hot) -> read_group
// (each group of 8 counters' value, zero when none of them is hit) and read_register -> read_sel
// (their OR) -> s_axil_rdata. Every stage is an AND-OR of registered one-hot selects: an index
// register instead drives a mux input of every counter bit, and that fan-out was this block's
// longest path.
localparam GROUPS = (COUNTER_COUNT + 7) / 8;
reg                  read_addr_valid, read_group_valid, read_sel_valid;
wire read_fire = s_axil_arvalid && !read_addr_valid && !read_group_valid && !read_sel_valid
                 && !s_axil_rvalid;
assign s_axil_arready = read_fire;
assign s_axil_rresp = 2'b00;

wire [ADDR_WIDTH-1:0] write_addr = {s_axil_awaddr[ADDR_WIDTH-1:2], 2'b00};
wire [ADDR_WIDTH-1:0] read_word = {s_axil_araddr[ADDR_WIDTH-1:2], 2'b00};
// read_word and the counters' base as 32 bits, so counter k's address is base + 4k
wire [31:0] read_word_32 = {{(32-ADDR_WIDTH){1'b0}}, read_word};
wire [31:0] counter_base_32 = {{(32-ADDR_WIDTH){1'b0}}, CSR_COUNTER_BASE[ADDR_WIDTH-1:0]};
reg  [COUNTER_COUNT-1:0] counter_hit;   // one-hot (or none): the counter the address names
reg  [GROUPS*49-1:0]     read_group;    // {pending, count} of each group's hit counter, or zero
reg  [31:0]              read_register; // the hit register's value, or zero

function [31:0] merge_bytes;
    input [31:0] old_value;
    input [31:0] new_value;
    input [3:0]  strobe;
    integer b;
    begin
        for (b = 0; b < 4; b = b + 1)
            merge_bytes[b*8 +: 8] = strobe[b] ? new_value[b*8 +: 8] : old_value[b*8 +: 8];
    end
endfunction

// The registers other than counters, in register_hit order: their addresses and values.
localparam REGISTERS = 4 + STATUS_COUNT;
wire [REGISTERS*ADDR_WIDTH-1:0] register_addr = {
    CSR_LAST_GAP_COUNT, CSR_LAST_GAP_FIRST_HI, CSR_LAST_GAP_FIRST_LO, CSR_EXPECTED_SEQ_HI,
    CSR_EXPECTED_SEQ_LO, CSR_FILTER_PORT, CSR_FILTER_IP, CSR_CONTROL, CSR_DEVICE_ID};
wire [REGISTERS*32-1:0] register_values = {
    status[STATUS_LAST_GAP_COUNT*32 +: 32], status[STATUS_LAST_GAP_FIRST_HI*32 +: 32],
    status[STATUS_LAST_GAP_FIRST_LO*32 +: 32], status[STATUS_EXPECTED_SEQ_HI*32 +: 32],
    status[STATUS_EXPECTED_SEQ_LO*32 +: 32], {16'd0, cfg_dest_port}, cfg_dest_ip,
    {31'd0, cfg_enable}, CSR_DEVICE_ID_RESET};
reg [REGISTERS-1:0] register_hit;  // one-hot (or none): the register the address names
integer r, k;
// the hit register's value, and the OR of the groups and the register (at most one is not zero)
reg [31:0] register_pick;
reg [48:0] group_or;
always @* begin
    register_pick = 32'd0;
    for (r = 0; r < REGISTERS; r = r + 1)
        register_pick = register_pick | ({32{register_hit[r]}} & register_values[r*32 +: 32]);
    group_or = {17'd0, read_register};
    for (k = 0; k < GROUPS; k = k + 1)
        group_or = group_or | read_group[k*49 +: 49];
end

// the selected value: {high half, low half} with the high half's pending increment
reg [31:0] read_sel;
reg [16:0] read_sel_pending;

wire [31:0] control_written = merge_bytes({31'd0, cfg_enable}, s_axil_wdata, s_axil_wstrb);
wire [31:0] port_written = merge_bytes({16'd0, cfg_dest_port}, s_axil_wdata, s_axil_wstrb);
// high half + increment + carry as one 17-bit add: the carry enters below bit 0
wire [16:0] read_hi_sum = {read_sel[31:16], 1'b1} + read_sel_pending;

// {pending, count} of the hit counter of a group, or zero
function [48:0] group_entry;
    input integer group;
    integer c;
    begin
        group_entry = 49'd0;
        for (c = 8 * group; c < 8 * group + 8 && c < COUNTER_COUNT; c = c + 1)
            group_entry = group_entry | ({49{counter_hit[c]}}
                                         & {pendings[c * 17 +: 17], counts[c * 32 +: 32]});
    end
endfunction

genvar g;
generate
    for (g = 0; g < COUNTER_COUNT; g = g + 1) begin : g_counter
        reg  [15:0] count_lo, count_hi;
        reg  [16:0] pending_hi;  // {increment bits 31:16, low-half carry} not yet in count_hi
        wire [16:0] hi_sum = {count_hi, 1'b1} + pending_hi;
        assign counts[g*32 +: 32] = {count_hi, count_lo};
        assign pendings[g*17 +: 17] = pending_hi;
        always @(posedge clk) begin
            {pending_hi[0], count_lo} <= {1'b0, count_lo} + {1'b0, inc[g*32 +: 16]};
            pending_hi[16:1] <= inc[g*32+16 +: 16];
            count_hi <= hi_sum[16:1];
            if (rst) begin
                count_lo <= 16'd0;
                count_hi <= 16'd0;
                pending_hi <= 17'd0;
            end
        end
    end
endgenerate

always @(posedge clk) begin
    inc <= stat_inc;

    if (s_axil_bvalid && s_axil_bready)
        s_axil_bvalid <= 1'b0;
    if (write_fire) begin
        s_axil_bvalid <= 1'b1;
        case (write_addr)
            CSR_CONTROL: cfg_enable <= control_written[0];
            CSR_FILTER_IP: cfg_dest_ip <= merge_bytes(cfg_dest_ip, s_axil_wdata, s_axil_wstrb);
            CSR_FILTER_PORT: cfg_dest_port <= port_written[15:0];
            default: ;
        endcase
    end

    if (read_fire) begin
        for (k = 0; k < COUNTER_COUNT; k = k + 1)
            counter_hit[k] <= read_word_32 == counter_base_32 + 4 * k;
        for (r = 0; r < REGISTERS; r = r + 1)
            register_hit[r] <= read_word == register_addr[r*ADDR_WIDTH +: ADDR_WIDTH];
    end
    read_addr_valid <= read_fire;
    read_group_valid <= read_addr_valid;
    read_sel_valid <= read_group_valid;
    if (read_addr_valid) begin
        for (k = 0; k < GROUPS; k = k + 1)
            read_group[k*49 +: 49] <= group_entry(k);
        read_register <= register_pick;
    end
    if (read_group_valid)
        {read_sel_pending, read_sel} <= group_or;
    if (s_axil_rvalid && s_axil_rready)
        s_axil_rvalid <= 1'b0;
    if (read_sel_valid) begin
        s_axil_rvalid <= 1'b1;
        s_axil_rdata <= {read_hi_sum[16:1], read_sel[15:0]};
    end

    if (rst) begin
        inc <= 0;
        s_axil_bvalid <= 1'b0;
        read_addr_valid <= 1'b0;
        read_group_valid <= 1'b0;
        read_sel_valid <= 1'b0;
        s_axil_rvalid <= 1'b0;
        cfg_enable <= CSR_CONTROL_RESET[0];
        cfg_dest_ip <= CSR_FILTER_IP_RESET;
        cfg_dest_port <= CSR_FILTER_PORT_RESET[15:0];
    end
end

endmodule
