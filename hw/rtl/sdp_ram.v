// Simple dual-port RAM: one write port and one synchronous read port with its
// data registered, the shape block RAM and UltraRAM both take. A read and a
// write of one address in one cycle read the old word.
//
// ULTRA = 1 marks the array ram_style "ultra", so Vivado (and Yosys'
// synth_xilinx -family xcup) put it in UltraRAM on UltraScale+ parts; 0 leaves
// the choice to the tool, which picks block RAM at these sizes.

module sdp_ram #(
    parameter WIDTH = 8,
    parameter DEPTH = 16,
    parameter ULTRA = 0,
    parameter ADDR_WIDTH = DEPTH > 1 ? $clog2(DEPTH) : 1
) (
    input  wire                  clk,
    input  wire                  we,
    input  wire [ADDR_WIDTH-1:0] waddr,
    input  wire [WIDTH-1:0]      wdata,
    input  wire                  re,
    input  wire [ADDR_WIDTH-1:0] raddr,
    output reg  [WIDTH-1:0]      rdata
);

generate
    if (ULTRA) begin : g_ultra
        (* ram_style = "ultra" *) reg [WIDTH-1:0] mem [0:DEPTH-1];
        always @(posedge clk) begin
            if (we)
                mem[waddr] <= wdata;
            if (re)
                rdata <= mem[raddr];
        end
    end else begin : g_block
        reg [WIDTH-1:0] mem [0:DEPTH-1];
        always @(posedge clk) begin
            if (we)
                mem[waddr] <= wdata;
            if (re)
                rdata <= mem[raddr];
        end
    end
endgenerate

endmodule
