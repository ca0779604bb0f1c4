// Ethernet II (optionally one 802.1Q tag) / IPv4 / UDP receive and filter.
//
// Frames arrive on s_axis starting at the destination MAC; every non-last
// beat is full. The UDP payload of frames addressed to cfg_dest_ip /
// cfg_dest_port leaves on m_axis cut-through, without realignment: the first
// payload beat has the header lanes nulled in tkeep (legal AXI4-Stream null
// bytes), so the kept lanes of every beat form one contiguous run. Ethernet
// padding after the IP total length is not forwarded.
//
// Every frame ends in exactly one stat_* strobe: passed or one drop reason.
// Header checks are made, in a fixed priority order, in the beat that
// completes the bytes they need. Two faults show only at the end of the
// frame (tuser set on the last beat, or fewer bytes than the IP total length);
// the payload already forwarded cannot be recalled, so the last payload beat
// is marked with m_axis_tuser = 1 and downstream discards that beat and any
// message left incomplete. When padding follows the payload, the last
// payload beat is held until the frame's last beat shows its tuser.
//
// Single pipeline stage: header bytes already seen are kept in hdr_reg and
// merged with the incoming beat, so the verdict and the payload mask are
// computed in the cycle the beat arrives.

module udp_rx_filter #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,

    output reg  [DATA_WIDTH-1:0] m_axis_tdata,
    output reg  [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output reg                   m_axis_tlast,
    output reg                   m_axis_tuser,

    input  wire                  cfg_enable,
    input  wire [31:0]           cfg_dest_ip,
    input  wire [15:0]           cfg_dest_port,

    output reg                   stat_frame_in,
    output reg                   stat_frame_passed,
    output reg                   stat_drop_not_ipv4,
    output reg                   stat_drop_fragment,
    output reg                   stat_drop_checksum,
    output reg                   stat_drop_not_udp,
    output reg                   stat_drop_length,
    output reg                   stat_drop_filtered,
    output reg                   stat_drop_runt,
    output reg                   stat_drop_frame_error,
    output reg                   stat_drop_truncated
);

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("udp_rx_filter: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("udp_rx_filter: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
end

// Longest header: Ethernet with 802.1Q (18) + IPv4 with options (60) + UDP (8).
localparam HDR_BYTES = 86;
localparam PTR_WIDTH = 17;  // frame byte offsets up to 18 + 65535

localparam [3:0] V_NONE      = 4'd0,
                 V_PASS      = 4'd1,
                 V_NOT_IPV4  = 4'd2,
                 V_FRAGMENT  = 4'd3,
                 V_CHECKSUM  = 4'd4,
                 V_NOT_UDP   = 4'd5,
                 V_LENGTH    = 4'd6,
                 V_FILTERED  = 4'd7;

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg  [PTR_WIDTH-1:0]   beat_ptr;      // frame offset of the incoming beat's lane 0
reg                    decided;       // verdict for this frame already made
reg                    passing;       // ... and it was pass
reg                    payload_done;  // last payload byte already forwarded
reg  [PTR_WIDTH-1:0]   payload_start_reg;
reg  [PTR_WIDTH-1:0]   payload_end_reg;
reg                    out_valid;
reg                    out_hold;      // last payload beat waits for the frame's end

assign m_axis_tvalid = out_valid && !out_hold;
wire out_free = !out_valid || (m_axis_tready && !out_hold);
// While holding, the rest of the frame is padding and produces no output.
assign s_axis_tready = out_free || out_hold;
wire s_fire = s_axis_tvalid && s_axis_tready;

// ---- header view: bytes seen so far merged with the incoming beat ----
wire [HDR_BYTES*8-1:0] hv;
genvar g;
generate
    for (g = 0; g < HDR_BYTES; g = g + 1) begin : g_hdr_view
        assign hv[g*8 +: 8] = (beat_ptr == (g / KEEP_WIDTH) * KEEP_WIDTH)
                              ? s_axis_tdata[(g % KEEP_WIDTH)*8 +: 8] : hdr_reg[g*8 +: 8];
    end
endgenerate

reg [KEEP_WIDTH:0] keep_count;
integer i;
always @* begin
    keep_count = 0;
    for (i = 0; i < KEEP_WIDTH; i = i + 1)
        keep_count = keep_count + s_axis_tkeep[i];
end

wire [PTR_WIDTH-1:0] bytes_seen = beat_ptr + (s_axis_tlast ? keep_count : KEEP_WIDTH);

wire        vlan      = {hv[12*8 +: 8], hv[13*8 +: 8]} == 16'h8100;
wire [4:0]  eth_len   = vlan ? 5'd18 : 5'd14;
wire [15:0] ethertype = vlan ? {hv[16*8 +: 8], hv[17*8 +: 8]} : {hv[12*8 +: 8], hv[13*8 +: 8]};

// IPv4 header seen through the VLAN mux: byte k of the IP header.
wire [60*8-1:0] ip = vlan ? hv[18*8 +: 60*8] : hv[14*8 +: 60*8];
wire [3:0]  ip_version  = ip[7:4];
wire [3:0]  ip_ihl      = ip[3:0];
wire [6:0]  ip_hdr_len  = {ip_ihl, 2'b00};
wire [15:0] ip_total    = {ip[2*8 +: 8], ip[3*8 +: 8]};
wire [15:0] ip_frag     = {ip[6*8 +: 8], ip[7*8 +: 8]};
wire [7:0]  ip_protocol = ip[9*8 +: 8];
wire [31:0] ip_dest     = {ip[16*8 +: 8], ip[17*8 +: 8], ip[18*8 +: 8], ip[19*8 +: 8]};
wire        ip_fragment = ip_frag[13] || ip_frag[12:0] != 0;

// One's-complement sum over the IHL*2 header words; a correct header sums to 0xFFFF.
reg [20:0] csum_acc;
integer w;
always @* begin
    csum_acc = 0;
    for (w = 0; w < 30; w = w + 1)
        if (w < ip_ihl * 2)
            csum_acc = csum_acc + {ip[(2*w)*8 +: 8], ip[(2*w+1)*8 +: 8]};
end
wire [16:0] csum_fold1 = csum_acc[15:0] + csum_acc[20:16];
wire [15:0] csum_fold2 = csum_fold1[15:0] + csum_fold1[16];
wire        csum_ok    = csum_fold2 == 16'hFFFF;

wire [PTR_WIDTH-1:0] udp_base = eth_len + ip_hdr_len;
wire [15:0] udp_dest_port = {hv[(udp_base+2)*8 +: 8], hv[(udp_base+3)*8 +: 8]};
wire [15:0] udp_length    = {hv[(udp_base+4)*8 +: 8], hv[(udp_base+5)*8 +: 8]};

wire have_eth  = bytes_seen >= eth_len;
wire have_ip20 = bytes_seen >= eth_len + 20;
wire ihl_ok    = ip_version == 4 && ip_ihl >= 5;
wire have_ip   = have_ip20 && ihl_ok && bytes_seen >= udp_base;
wire have_udp  = have_ip && bytes_seen >= udp_base + 8;

reg [3:0] header_verdict;
always @* begin
    header_verdict = V_NONE;
    if (have_eth && ethertype != 16'h0800)
        header_verdict = V_NOT_IPV4;
    else if (have_ip20 && !ihl_ok)
        header_verdict = V_NOT_IPV4;
    else if (have_ip && ip_fragment)
        header_verdict = V_FRAGMENT;
    else if (have_ip && !csum_ok)
        header_verdict = V_CHECKSUM;
    else if (have_ip && ip_protocol != 8'd17)
        header_verdict = V_NOT_UDP;
    else if (have_ip && ip_total < ip_hdr_len + 8)
        header_verdict = V_LENGTH;
    else if (have_udp && udp_length != ip_total - ip_hdr_len)
        header_verdict = V_LENGTH;
    else if (have_udp && !(cfg_enable && ip_dest == cfg_dest_ip && udp_dest_port == cfg_dest_port))
        header_verdict = V_FILTERED;
    else if (have_udp)
        header_verdict = V_PASS;
end

wire                 deciding_now  = !decided && header_verdict != V_NONE;
wire                 passing_now   = decided ? passing : header_verdict == V_PASS;
wire [PTR_WIDTH-1:0] payload_start = decided ? payload_start_reg : udp_base + 8;
wire [PTR_WIDTH-1:0] payload_end   = decided ? payload_end_reg : eth_len + ip_total;

reg [KEEP_WIDTH-1:0] payload_keep;
integer l;
always @* begin
    for (l = 0; l < KEEP_WIDTH; l = l + 1)
        payload_keep[l] = s_axis_tkeep[l] && beat_ptr + l >= payload_start && beat_ptr + l < payload_end;
end

wire payload_ends_here = beat_ptr + KEEP_WIDTH >= payload_end;
wire truncated         = bytes_seen < payload_end;
wire frame_bad         = s_axis_tuser || truncated;
wire emit_last         = s_axis_tlast || payload_ends_here;
wire emit              = passing_now && !payload_done && (payload_keep != 0 || emit_last);

always @(posedge clk) begin
    stat_frame_in         <= 1'b0;
    stat_frame_passed     <= 1'b0;
    stat_drop_not_ipv4    <= 1'b0;
    stat_drop_fragment    <= 1'b0;
    stat_drop_checksum    <= 1'b0;
    stat_drop_not_udp     <= 1'b0;
    stat_drop_length      <= 1'b0;
    stat_drop_filtered    <= 1'b0;
    stat_drop_runt        <= 1'b0;
    stat_drop_frame_error <= 1'b0;
    stat_drop_truncated   <= 1'b0;

    if (m_axis_tvalid && m_axis_tready)
        out_valid <= 1'b0;

    if (s_fire) begin
        hdr_reg <= hv;
        stat_frame_in <= beat_ptr == 0;
        if (beat_ptr < {PTR_WIDTH{1'b1}} - KEEP_WIDTH)
            beat_ptr <= beat_ptr + KEEP_WIDTH;

        if (deciding_now) begin
            decided <= 1'b1;
            passing <= header_verdict == V_PASS;
            payload_start_reg <= payload_start;
            payload_end_reg <= payload_end;
            case (header_verdict)
                V_NOT_IPV4: stat_drop_not_ipv4 <= 1'b1;
                V_FRAGMENT: stat_drop_fragment <= 1'b1;
                V_CHECKSUM: stat_drop_checksum <= 1'b1;
                V_NOT_UDP:  stat_drop_not_udp  <= 1'b1;
                V_LENGTH:   stat_drop_length   <= 1'b1;
                V_FILTERED: stat_drop_filtered <= 1'b1;
                default: ;
            endcase
        end

        if (emit) begin
            m_axis_tdata <= s_axis_tdata;
            m_axis_tkeep <= payload_keep;
            m_axis_tlast <= emit_last;
            m_axis_tuser <= s_axis_tlast && frame_bad;
            out_valid <= 1'b1;
            out_hold <= emit_last && !s_axis_tlast;
            payload_done <= emit_last;
        end else if (out_hold && s_axis_tlast) begin
            m_axis_tuser <= s_axis_tuser;
            out_hold <= 1'b0;
        end

        if (s_axis_tlast) begin
            if (passing_now) begin
                if (s_axis_tuser)
                    stat_drop_frame_error <= 1'b1;
                else if (truncated)
                    stat_drop_truncated <= 1'b1;
                else
                    stat_frame_passed <= 1'b1;
            end else if (!decided && header_verdict == V_NONE) begin
                if (s_axis_tuser)
                    stat_drop_frame_error <= 1'b1;
                else
                    stat_drop_runt <= 1'b1;
            end
            beat_ptr <= 0;
            decided <= 1'b0;
            passing <= 1'b0;
            payload_done <= 1'b0;
        end
    end

    if (rst) begin
        beat_ptr <= 0;
        decided <= 1'b0;
        passing <= 1'b0;
        payload_done <= 1'b0;
        out_valid <= 1'b0;
        out_hold <= 1'b0;
        stat_frame_in <= 1'b0;
        stat_frame_passed <= 1'b0;
        stat_drop_not_ipv4 <= 1'b0;
        stat_drop_fragment <= 1'b0;
        stat_drop_checksum <= 1'b0;
        stat_drop_not_udp <= 1'b0;
        stat_drop_length <= 1'b0;
        stat_drop_filtered <= 1'b0;
        stat_drop_runt <= 1'b0;
        stat_drop_frame_error <= 1'b0;
        stat_drop_truncated <= 1'b0;
    end
end

endmodule
